"""Loops to positive gene pairs: standardise, merge anchors, cluster, keep gene-gene loops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pybedtools
from pybedtools import filenames as _bt_files
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from preprocess._io import CHROM_CODE

ANCHOR_COLUMNS = ["chrom", "start", "end"]


@contextmanager
def bedtools_session() -> Iterator[None]:
    """Delete the temporary files pybedtools makes inside the block (and only those)."""
    before = len(_bt_files.TEMPFILES)
    try:
        yield
    finally:
        for name in _bt_files.TEMPFILES[before:]:
            try:
                os.unlink(name)
            except OSError:
                pass
        del _bt_files.TEMPFILES[before:]


def to_bedtool(frame: pd.DataFrame) -> pybedtools.BedTool:
    """A BedTool of ``chrom, start, end[, name]`` rows (written to a pybedtools temp file)."""
    return pybedtools.BedTool.from_dataframe(frame)


def intersect_ids(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Pairs ``(a, b)`` of integer ids of overlapping regions (``chrom, start, end, id`` tables)."""
    if a.empty or b.empty:
        return pd.DataFrame({"a": np.empty(0, "int64"), "b": np.empty(0, "int64")})
    hits = to_bedtool(a).intersect(to_bedtool(b), wa=True, wb=True)
    table = hits.to_dataframe(header=None, disable_auto_names=True, usecols=[3, 7])
    if table.empty:
        return pd.DataFrame({"a": np.empty(0, "int64"), "b": np.empty(0, "int64")})
    return pd.DataFrame(
        {"a": table.iloc[:, 0].to_numpy("int64"), "b": table.iloc[:, 1].to_numpy("int64")}
    )


def sort_regions(
    frame: pd.DataFrame, by: tuple[str, ...] = ("chrom", "start", "end")
) -> pd.DataFrame:
    """Rows in genome order: chromosome code (``by[0]``), then the other ``by`` columns."""
    keys = [frame[c].to_numpy() for c in reversed(by[1:])]
    order = np.lexsort((*keys, frame[by[0]].map(CHROM_CODE).to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def standardize_loops(loops: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Keep intrachromosomal loops with disjoint anchors, anchor 1 first; count what is dropped.

    Returns
    -------
    (standard, known, counts)
        ``standard``: the loops to cluster; ``known``: every intrachromosomal loop on a kept
        chromosome (overlapping anchors included), against which negatives are filtered;
        ``counts``: rows read and dropped at each rule.
    """
    counts = {"loops_read": len(loops)}
    kept = loops["chrom1"].isin(CHROM_CODE) & loops["chrom2"].isin(CHROM_CODE)
    counts["loops_other_chromosomes"] = int((~kept).sum())
    loops = loops[kept]
    intra = loops["chrom1"] == loops["chrom2"]
    counts["loops_interchromosomal"] = int((~intra).sum())
    loops = loops[intra]
    swap = (loops["start1"] > loops["start2"]) | (
        (loops["start1"] == loops["start2"]) & (loops["end1"] > loops["end2"])
    )
    first = np.where(swap, loops[["start2", "end2"]].T, loops[["start1", "end1"]].T)
    second = np.where(swap, loops[["start1", "end1"]].T, loops[["start2", "end2"]].T)
    known = pd.DataFrame(
        {
            "chrom": loops["chrom1"].to_numpy(),
            "start1": first[0],
            "end1": first[1],
            "start2": second[0],
            "end2": second[1],
        }
    ).astype({c: "int64" for c in ("start1", "end1", "start2", "end2")})
    known = sort_regions(known, ("chrom", "start1", "end1", "start2", "end2"))
    known = known.drop_duplicates(ignore_index=True)
    counts["loops_swapped"] = int(swap.sum())
    disjoint = known["end1"] <= known["start2"]
    counts["loops_overlapping_anchors"] = int((~disjoint).sum())
    counts["loops_duplicate"] = int(intra.sum()) - len(known)
    standard = known[disjoint].reset_index(drop=True)
    counts["loops_standardised"] = len(standard)
    return standard, known, counts


def cluster_loops(
    loops: pd.DataFrame, *, merge_distance: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Merge anchors closer than ``merge_distance`` and collapse loops onto the merged anchors.

    Returns
    -------
    (anchors, interactions, counts)
        ``anchors``: merged anchors ``chrom, start, end, cluster`` in genome order (the row index
        is the anchor id; ``cluster`` is the connected component in the loop graph);
        ``interactions``: ``anchor1, anchor2, loops`` (anchor1 < anchor2, distinct merged
        anchors, number of input loops collapsed into each).
    """
    n = len(loops)
    ends = pd.DataFrame(
        {
            "chrom": np.concatenate([loops["chrom"], loops["chrom"]]),
            "start": np.concatenate([loops["start1"], loops["start2"]]),
            "end": np.concatenate([loops["end1"], loops["end2"]]),
            "id": np.arange(2 * n),
        }
    )
    merged = to_bedtool(ends[ANCHOR_COLUMNS]).sort().merge(d=merge_distance)
    anchors = merged.to_dataframe(header=None, names=ANCHOR_COLUMNS, dtype={"chrom": str})
    anchors = sort_regions(anchors)
    hits = intersect_ids(ends, anchors.assign(id=np.arange(len(anchors))))
    anchor_of_end = np.full(2 * n, -1, dtype="int64")
    anchor_of_end[hits["a"].to_numpy()] = hits["b"].to_numpy()
    a1, a2 = anchor_of_end[:n], anchor_of_end[n:]
    counts = {"loop_anchors": 2 * n, "merged_anchors": len(anchors)}
    same = a1 == a2
    counts["loops_within_one_merged_anchor"] = int(same.sum())
    pairs = pd.DataFrame({"anchor1": np.minimum(a1, a2), "anchor2": np.maximum(a1, a2)})[~same]
    interactions = (
        pairs.groupby(["anchor1", "anchor2"], sort=True).size().rename("loops").reset_index()
    )
    counts["clustered_interactions"] = len(interactions)
    graph = coo_matrix(
        (np.ones(len(interactions)), (interactions["anchor1"], interactions["anchor2"])),
        shape=(len(anchors), len(anchors)),
    )
    n_clusters, labels = connected_components(graph, directed=False)
    anchors["cluster"] = labels
    counts["clusters"] = int(n_clusters)
    return anchors, interactions, counts


def gene_sites(genes: pd.DataFrame, *, gene_site: str) -> pd.DataFrame:
    """Where a gene counts as present: its first base (``start``) or its whole body (``body``)."""
    if gene_site not in ("start", "body"):
        raise ValueError(f"gene_site must be 'start' or 'body', not {gene_site!r}")
    sites = genes[["chrom", "start", "end", "name"]]
    sites = sites[sites["chrom"].isin(CHROM_CODE)]
    if gene_site == "start":
        sites = sites.assign(end=sites["start"] + 1)
    return sort_regions(sites.drop_duplicates(ignore_index=True))


def gene_interactions(
    anchors: pd.DataFrame, interactions: pd.DataFrame, sites: pd.DataFrame
) -> pd.DataFrame:
    """Interactions whose two anchors overlap two distinct genes, with distances and gene names.

    Returns the rows of ``interactions`` that qualify, plus ``chrom, start1, end1, start2, end2,
    distance`` (between anchor midpoints), ``genes1`` and ``genes2`` (``;``-joined names).
    """
    hits = intersect_ids(
        anchors.assign(id=np.arange(len(anchors)))[[*ANCHOR_COLUMNS, "id"]],
        sites.assign(id=np.arange(len(sites)))[[*ANCHOR_COLUMNS, "id"]],
    )
    names = sites["name"].to_numpy()
    hits = hits.assign(gene=names[hits["b"].to_numpy()]).drop_duplicates(["a", "gene"])
    hits = hits.sort_values(["a", "gene"])
    per_anchor = hits.groupby("a")["gene"].agg(list)
    n_genes = np.zeros(len(anchors), dtype="int64")
    n_genes[per_anchor.index.to_numpy()] = per_anchor.str.len().to_numpy()
    first_gene = np.full(len(anchors), "", dtype=object)
    first_gene[per_anchor.index.to_numpy()] = per_anchor.str[0].to_numpy()
    a1 = interactions["anchor1"].to_numpy()
    a2 = interactions["anchor2"].to_numpy()
    n1, n2 = n_genes[a1], n_genes[a2]
    one_gene = (n1 == 1) & (n2 == 1) & (first_gene[a1] == first_gene[a2])
    keep = (n1 > 0) & (n2 > 0) & ~one_gene
    out = interactions[keep].reset_index(drop=True)
    left = anchors.iloc[out["anchor1"]].reset_index(drop=True)
    right = anchors.iloc[out["anchor2"]].reset_index(drop=True)
    joined = per_anchor.str.join(";")
    out = out.assign(
        chrom=left["chrom"],
        start1=left["start"],
        end1=left["end"],
        start2=right["start"],
        end2=right["end"],
        distance=0.5 * (right["start"] + right["end"] - left["start"] - left["end"]),
        genes1=joined.reindex(out["anchor1"]).to_numpy(),
        genes2=joined.reindex(out["anchor2"]).to_numpy(),
    )
    return out
