"""Negative pairs: candidates from three sources, the known-loop filter, distance-matched sampling.

Sources (the ``source`` column of a pair set):

``anchor_pair``
    two anchors of positive pairs that no known loop joins (within or across loop clusters);
``ctcf_pair``
    two CTCF peaks, each widened around its centre to a size drawn from the anchor sizes;
``gene_pair``
    two gene sites, widened the same way;
``genome_pair``
    two random regions anywhere between a chromosome's first and last gene, sized from the anchor
    sizes and placed at a positive's exact distance, off the bin grid (``--negative-regions
    genome``). This is what AI4Loop's published negatives look like: their midpoints are a median
    42 kb from the nearest K562 CTCF peak, and under a third of them have an expressed gene within
    3 kb, against half of the positives.

Widened regions are snapped to the loops' bin grid (the greatest common divisor of the positive
anchors' coordinates, 5 kb for Rao 2014 lists), so negatives look like Hi-C bins as positives do
and can match a positive's distance exactly.

Anchor and CTCF pairs form the first pool; gene pairs are the fallback, used only where the first
pool runs out (AI4Loop's rule). Every candidate lies on one chromosome, has anchors at least
``min_gap`` apart and a midpoint distance in ``[min_distance, max_distance]``, and is dropped if
its two anchors overlap the two anchors of one known loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from preprocess._io import CHROM_CODE
from preprocess._loops import intersect_ids, sort_regions

SOURCES = ("anchor_pair", "ctcf_pair", "gene_pair", "genome_pair")
FALLBACK = {"anchor_pair": 0, "ctcf_pair": 0, "gene_pair": 1, "genome_pair": 0}
#: Matching levels, most exact first: ``span`` is twice the midpoint distance (an integer).
LEVELS = {
    "same_distance_same_chromosome": ["chrom", "span"],
    "same_distance_other_chromosome": ["span"],
    "same_bin_same_chromosome": ["chrom", "bin"],
    "same_bin_other_chromosome": ["bin"],
}


def resize_regions(
    regions: pd.DataFrame, sizes: np.ndarray, rng: np.random.Generator, *, grid: int = 1
) -> pd.DataFrame:
    """Widen each region around its centre to a size drawn from ``sizes`` (never narrower).

    Widths are rounded up to a multiple of ``grid`` and starts to the nearest multiple, so the
    regions sit on the same bin grid as the loop anchors.
    """
    regions = sort_regions(regions[["chrom", "start", "end"]].drop_duplicates())
    draw = rng.choice(sizes, size=len(regions))
    width = np.maximum((regions["end"] - regions["start"]).to_numpy(), draw)
    width = -(-width // grid) * grid
    centre = 0.5 * (regions["start"] + regions["end"]).to_numpy()
    start = np.round((centre - width / 2) / grid).astype("int64") * grid
    start = np.maximum(start, 0)
    out = pd.DataFrame({"chrom": regions["chrom"], "start": start, "end": start + width})
    return sort_regions(out.drop_duplicates()).astype({"start": "int64", "end": "int64"})


def _pairs_in_range(
    start: np.ndarray,
    end: np.ndarray,
    *,
    min_distance: float,
    max_distance: float,
    min_gap: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (left, right) of regions on one chromosome at an allowed midpoint distance."""
    mid = 0.5 * (start + end)
    order = np.argsort(mid, kind="stable")
    mid_sorted = mid[order]
    lo = np.searchsorted(mid_sorted, mid_sorted + min_distance, side="left")
    hi = np.searchsorted(mid_sorted, mid_sorted + max_distance, side="right")
    n_partners = hi - lo
    total = int(n_partners.sum())
    left = np.repeat(np.arange(len(mid_sorted)), n_partners)
    offsets = np.arange(total) - np.repeat(np.cumsum(n_partners) - n_partners, n_partners)
    right = np.repeat(lo, n_partners) + offsets
    left, right = order[left], order[right]
    ok = start[right] - end[left] >= min_gap
    return left[ok], right[ok]


def loop_hits(regions: pd.DataFrame, loop_ends: pd.DataFrame) -> pd.DataFrame:
    """Which known-loop anchor each region overlaps: ``region, loop, side`` (one row per hit).

    ``regions`` is ``chrom, start, end, id``; ``loop_ends`` as :func:`known_loop_ends` gives it.
    """
    hits = intersect_ids(regions, loop_ends)
    return pd.DataFrame(
        {"region": hits["a"], "loop": hits["b"] // 2, "side": hits["b"] % 2}
    ).drop_duplicates()


def _known_loop_mask(left: np.ndarray, right: np.ndarray, region_hits: pd.DataFrame) -> np.ndarray:
    """True for pairs whose two regions overlap the two anchors of one known loop."""
    drop = np.zeros(len(left), dtype=bool)
    if region_hits.empty or len(left) == 0:
        return drop
    size = max(int(left.max()), int(right.max()), int(region_hits["region"].max())) + 1
    touched = np.zeros(size, dtype=bool)
    touched[region_hits["region"].to_numpy()] = True
    both = np.flatnonzero(touched[left] & touched[right])
    if len(both) == 0:
        return drop
    ends1 = pd.DataFrame({"pair": both, "region": left[both]}).merge(region_hits, on="region")
    ends2 = pd.DataFrame({"pair": both, "region": right[both]}).merge(region_hits, on="region")
    joined = ends1.merge(ends2, on=["pair", "loop"], suffixes=("1", "2"))
    joined = joined[joined["side1"] != joined["side2"]]
    drop[joined["pair"].unique()] = True
    return drop


def known_loop_ends(known: pd.DataFrame) -> pd.DataFrame:
    """The anchors of known loops as ``chrom, start, end, id`` with id = 2 * loop + side."""
    n = len(known)
    return pd.DataFrame(
        {
            "chrom": np.concatenate([known["chrom"], known["chrom"]]),
            "start": np.concatenate([known["start1"], known["start2"]]),
            "end": np.concatenate([known["end1"], known["end2"]]),
            "id": np.concatenate([2 * np.arange(n), 2 * np.arange(n) + 1]),
        }
    )


def genome_pairs(
    positives: pd.DataFrame,
    *,
    extents: pd.DataFrame,
    sizes: np.ndarray,
    loop_ends: pd.DataFrame,
    edges: np.ndarray,
    rng: np.random.Generator,
    per_positive: int,
    min_gap: int,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Random region pairs at each positive's exact midpoint distance, on its chromosome.

    ``per_positive`` pairs are drawn per positive: two widths from ``sizes`` (shrunk together
    when the anchors would come closer than ``min_gap``), the first start uniform over the
    chromosome's ``extents`` (``chrom, start, end``: where the genes are) such that the pair fits.
    Pairs whose two regions overlap the two anchors of one known loop are dropped.

    Returns candidates laid out as :func:`candidate_pairs` gives them, and counts ``drawn`` and
    ``removed_by_known_loops``.
    """
    span_all = (
        positives["start2"] + positives["end2"] - positives["start1"] - positives["end1"]
    ).to_numpy("int64")
    rep = np.repeat(np.arange(len(positives)), per_positive)
    chrom = positives["chrom"].to_numpy()[rep]
    span = span_all[rep]
    w1 = rng.choice(sizes, size=len(rep)).astype("int64")
    w2 = rng.choice(sizes, size=len(rep)).astype("int64")
    limit = span - 2 * min_gap
    over = w1 + w2 > limit
    w1[over] = np.maximum(1, w1[over] * limit[over] // (w1[over] + w2[over]))
    w2[over] = np.maximum(1, limit[over] - w1[over])
    w2 -= (span + w1 - w2) % 2  # s1 + e1 + span must equal s2 + e2, a whole number
    bounds = extents.set_index("chrom")
    lo = bounds["start"].reindex(chrom).to_numpy("int64")
    hi = bounds["end"].reindex(chrom).to_numpy("int64")
    room = hi - (span + w1 + w2) // 2 - lo
    ok = (room >= 0) & (w2 >= 1)
    start1 = lo + np.floor(rng.random(len(rep)) * (np.maximum(room, 0) + 1)).astype("int64")
    start2 = (span + 2 * start1 + w1 - w2) // 2
    table = pd.DataFrame(
        {
            "chrom": chrom,
            "start1": start1,
            "end1": start1 + w1,
            "start2": start2,
            "end2": start2 + w2,
            "distance": span / 2,
            "span": span,
        }
    )[ok].reset_index(drop=True)
    n = len(table)
    regions = pd.DataFrame(
        {
            "chrom": np.concatenate([table["chrom"], table["chrom"]]),
            "start": np.concatenate([table["start1"], table["start2"]]),
            "end": np.concatenate([table["end1"], table["end2"]]),
            "id": np.arange(2 * n),
        }
    )
    drop = _known_loop_mask(np.arange(n), n + np.arange(n), loop_hits(regions, loop_ends))
    table = table[~drop].reset_index(drop=True)
    table["bin"] = distance_bins(table["distance"].to_numpy(), edges)
    table["key"] = rng.random(len(table))
    table["source"] = "genome_pair"
    return table, {"drawn": n, "removed_by_known_loops": int(drop.sum())}


def distance_bins(distance: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each distance on the log10 ``edges`` (the top edge falls in the last bin)."""
    idx = np.searchsorted(edges, np.log10(distance), side="right") - 1
    return np.clip(idx, 0, len(edges) - 2)


def _rank_within(groups: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by (group, key) and each item's rank inside its group in that order."""
    order = np.lexsort((key, groups))
    sorted_groups = groups[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_groups, sorted_groups, side="left")
    return order, rank


def candidate_pairs(
    regions: pd.DataFrame,
    *,
    source: str,
    loop_ends: pd.DataFrame,
    edges: np.ndarray,
    bin_demand: np.ndarray,
    span_demand: pd.Series,
    rng: np.random.Generator,
    min_distance: float,
    max_distance: float,
    min_gap: int,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Allowed pairs of ``regions`` (``chrom, start, end[, cluster]``) not joined by a known loop.

    Each candidate gets a distance bin (on the log10 ``edges``), its ``span`` (twice the
    midpoint distance) and a uniform random ``key``. Per chromosome only the candidates that
    sampling could ever take are kept: the ``bin_demand[bin]`` smallest keys of each bin and the
    ``span_demand[span]`` smallest keys of each span positives have, so a genome of CTCF pairs
    stays small and the draw is the same as from all of them.

    Returns the candidates (``chrom, start1, end1, start2, end2, distance, span, bin, key,
    source``) and counts: ``in_range``, ``removed_by_known_loops`` (and for anchor pairs,
    ``within_cluster`` / ``across_clusters`` of the rest).
    """
    regions = regions.reset_index(drop=True)
    ids = regions.assign(id=np.arange(len(regions)))[["chrom", "start", "end", "id"]]
    region_hits = loop_hits(ids, loop_ends)
    starts = regions["start"].to_numpy()
    ends = regions["end"].to_numpy()
    cluster = regions["cluster"].to_numpy() if "cluster" in regions else None
    counts = {"in_range": 0, "removed_by_known_loops": 0}
    if cluster is not None:
        counts.update(within_cluster=0, across_clusters=0)
    demand_spans = span_demand.index.to_numpy()
    demand_counts = span_demand.to_numpy()
    parts = []
    by_chrom = regions.groupby("chrom", sort=False).indices
    for chrom in sorted(by_chrom, key=CHROM_CODE.__getitem__):
        idx = by_chrom[chrom]
        left, right = _pairs_in_range(
            starts[idx],
            ends[idx],
            min_distance=min_distance,
            max_distance=max_distance,
            min_gap=min_gap,
        )
        left, right = idx[left], idx[right]
        drop = _known_loop_mask(left, right, region_hits)
        counts["in_range"] += len(left)
        counts["removed_by_known_loops"] += int(drop.sum())
        left, right = left[~drop], right[~drop]
        if cluster is not None:
            same = cluster[left] == cluster[right]
            counts["within_cluster"] += int(same.sum())
            counts["across_clusters"] += int((~same).sum())
        span = (starts[right] + ends[right]) - (starts[left] + ends[left])
        bins = distance_bins(span / 2, edges)
        key = rng.random(len(left))
        keep = np.zeros(len(left), dtype=bool)
        order, rank = _rank_within(bins, key)
        keep[order[rank < bin_demand[bins[order]]]] = True
        pos = np.searchsorted(demand_spans, span).clip(0, max(len(demand_spans) - 1, 0))
        has_span = (demand_spans[pos] == span) if len(demand_spans) else np.zeros_like(keep)
        order, rank = _rank_within(span, key)
        limit = np.where(has_span, demand_counts[pos], 0)
        keep[order[rank < limit[order]]] = True
        keep = np.flatnonzero(keep)
        parts.append(
            pd.DataFrame(
                {
                    "chrom": chrom,
                    "start1": starts[left[keep]],
                    "end1": ends[left[keep]],
                    "start2": starts[right[keep]],
                    "end2": ends[right[keep]],
                    "distance": span[keep] / 2,
                    "span": span[keep],
                    "bin": bins[keep],
                    "key": key[keep],
                    "source": source,
                }
            )
        )
    if not parts:
        empty = {"chrom": "", "start1": 0, "end1": 0, "start2": 0, "end2": 0, "distance": 0.0}
        empty |= {"span": 0, "bin": 0, "key": 0.0, "source": source}
        return pd.DataFrame([empty]).iloc[:0], counts
    return pd.concat(parts, ignore_index=True), counts


def sample_matched(
    positives: pd.DataFrame, candidates: pd.DataFrame, *, fold: int, edges: np.ndarray
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Pick ``fold`` negatives per positive, matched on midpoint distance.

    Demand is filled level by level (:data:`LEVELS`): the same distance on the same chromosome,
    the same distance on another chromosome, then the same log10 bin on the same chromosome and
    on any. Within a level, candidates are taken in random-key order, the first pool before the
    fallback pool. ``candidates`` come from :func:`candidate_pairs`.

    Returns the chosen candidates and counts: negatives filled at each level and ``shortage``
    (negatives that could not be found).
    """
    span = positives["end2"] + positives["start2"] - positives["end1"] - positives["start1"]
    demand = (
        pd.DataFrame(
            {
                "chrom": positives["chrom"].to_numpy(),
                "span": span.to_numpy(),
                "bin": distance_bins(positives["distance"].to_numpy(), edges),
            }
        )
        .value_counts()
        .mul(fold)
        .rename("left")
        .reset_index()
    )
    demand["code"] = demand["chrom"].map(CHROM_CODE)
    cand = candidates.assign(pool=candidates["source"].map(FALLBACK).to_numpy())
    cand = cand.sort_values(["pool", "key"], kind="stable", ignore_index=True)
    used = np.zeros(len(cand), dtype=bool)
    counts: dict[str, int] = {}
    for level, keys in LEVELS.items():
        open_demand = demand[demand["left"] > 0]
        wanted = open_demand.groupby(keys)["left"].sum()
        avail = cand[~used]
        rank = avail.groupby(keys, sort=False).cumcount().to_numpy()
        index = pd.MultiIndex.from_frame(avail[keys]) if len(keys) > 1 else avail[keys[0]]
        limit = wanted.reindex(index).fillna(0).to_numpy()
        take = avail.index[rank < limit]
        used[take] = True
        got = cand.loc[take].groupby(keys).size()
        counts[level] = len(take)
        # hand what each key group got to its demand rows, in genome order
        open_demand = open_demand.sort_values([*keys, "code", "span"])
        before = open_demand.groupby(keys)["left"].cumsum() - open_demand["left"]
        index = (
            pd.MultiIndex.from_frame(open_demand[keys]) if len(keys) > 1 else open_demand[keys[0]]
        )
        received = got.reindex(index).fillna(0).to_numpy()
        filled = np.clip(received - before.to_numpy(), 0, open_demand["left"].to_numpy())
        demand.loc[open_demand.index, "left"] -= filled.astype("int64")
    counts["shortage"] = int(demand["left"].sum())
    chosen = cand[used].assign(code=lambda t: t["chrom"].map(CHROM_CODE))
    chosen = chosen.sort_values(["code", "start1", "start2", "end1", "end2"])
    chosen = chosen.drop(columns=["span", "bin", "key", "pool", "code"]).reset_index(drop=True)
    return chosen, counts
