"""The preprocess pipeline: loops (+ genes, + CTCF peaks) to a distance-matched pair set."""

from __future__ import annotations

import time
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from ai4loop_core.errors import BadInputError
from preprocess._io import (
    describe_files,
    read_loops,
    read_regions,
    write_pair_set,
)
from preprocess._loops import (
    bedtools_session,
    cluster_loops,
    gene_interactions,
    gene_sites,
    standardize_loops,
)
from preprocess._negatives import (
    SOURCES,
    candidate_pairs,
    distance_bins,
    genome_pairs,
    known_loop_ends,
    resize_regions,
    sample_matched,
)

GeneSite = Literal["start", "body"]
NegativeRegions = Literal["genes", "genome"]
DEFAULT_GENES_NOTE = "default: ai4loop_core.genes.load_annotation (hg19 genes of allRNAseq.tsv)"
#: Genes of the benchmark sets: AI4Loop's own gene BED (GENCODE v36 gene starts, hg19), which
#: reproduces the published positive counts exactly.
BENCHMARK_GENES = "ai4loop-upstream/data/genecode.v36Gene.map2.bed"
PAIR_COLUMNS = [
    "label", "chrom", "start1", "end1", "start2", "end2", "distance", "source", "genes1", "genes2",
]  # fmt: skip


def build_pairs(
    loops: pd.DataFrame,
    genes: pd.DataFrame,
    *,
    ctcf: pd.DataFrame | None = None,
    gene_site: GeneSite = "start",
    negative_regions: NegativeRegions = "genes",
    seed: int = 0,
    fold: int = 5,
    merge_distance: int = 2500,
    min_distance: int = 5000,
    max_distance: int = 2_000_000,
    min_gap: int = 1000,
    n_bins: int = 50,
    source: str = "the loops",
) -> tuple[pd.DataFrame, dict]:
    """Build a labelled, distance-matched pair set from loop, gene and CTCF tables.

    Parameters
    ----------
    loops
        ``chrom1, start1, end1, chrom2, start2, end2`` (UCSC names, as :func:`read_loops` gives).
    genes
        ``chrom, start, end, name``: the genes; ``name`` tells genes apart.
    ctcf
        ``chrom, start, end`` CTCF peaks, or None for no CTCF-pair negatives.
    gene_site
        ``start``: a gene is at an anchor when its start coordinate (its first base, whatever the
        strand) is inside it, the rule behind AI4Loop's published sets; ``body``: when any of its
        body overlaps the anchor.
    negative_regions
        Where random negative anchors come from. ``genes``: CTCF peaks and gene sites, snapped to
        the loops' bin grid, so negatives hold genes as often as positives do (the honest test
        of a gene-pair model: every pair it scores in an atlas is a gene pair). ``genome``:
        random regions anywhere between a chromosome's first and last gene, off the grid, as in
        AI4Loop's published sets; their negatives are gene-poor, which makes them easier.
        ``ctcf`` must be None with ``genome``.
    seed
        Seed of every random choice; the same inputs and seed give the same pairs.
    fold
        Negatives per positive.
    merge_distance
        Loop anchors this close (bp) or closer are merged.
    min_distance, max_distance
        Range of midpoint distances kept (bp), for positives and negatives.
    min_gap
        Smallest gap (bp) between the two anchors of a negative.
    n_bins
        Log10-distance bins, for matching where no candidate has a positive's exact distance.
    source
        How error messages name the loop input.

    Returns
    -------
    (pairs, report)
        ``pairs``: ``label`` (1/0), ``chrom, start1, end1, start2, end2, distance, source``
        (``loop`` for positives, else the negative source), ``genes1, genes2`` (positives only);
        positives first, each part in genome order. ``report``: counts at each step, the distance
        histogram and a two-sample KS test of log10 distance.
    """
    if negative_regions not in ("genes", "genome"):
        raise BadInputError(
            f"negative_regions must be 'genes' or 'genome', not {negative_regions!r}"
        )
    if negative_regions == "genome" and ctcf is not None:
        raise BadInputError(
            "CTCF peaks are not used with genome-wide random negatives; drop --ctcf or use "
            "--negative-regions genes."
        )
    rng = np.random.default_rng(seed)
    limits = dict(min_distance=min_distance, max_distance=max_distance)
    edges = np.linspace(np.log10(min_distance), np.log10(max_distance), n_bins + 1)
    with bedtools_session():
        positives, anchors, known, counts = _positives(
            loops,
            genes,
            gene_site=gene_site,
            merge_distance=merge_distance,
            source=source,
            **limits,
        )
        negatives, negative_counts = _negatives(
            positives,
            anchors,
            known,
            genes=gene_sites(genes, gene_site=gene_site),
            ctcf=ctcf,
            negative_regions=negative_regions,
            rng=rng,
            fold=fold,
            edges=edges,
            min_gap=min_gap,
            source=source,
            **limits,
        )
    counts.update(negative_counts)
    pairs = pd.concat(
        [
            positives.assign(label=1, source="loop"),
            negatives.assign(label=0, genes1="", genes2=""),
        ],
        ignore_index=True,
    )[PAIR_COLUMNS]
    pos_d = positives["distance"].to_numpy()
    neg_d = negatives["distance"].to_numpy()
    ks = ks_2samp(np.log10(pos_d), np.log10(neg_d))
    sizes = _anchor_sizes(positives, anchors)
    report = {
        "parameters": {
            "seed": seed,
            "gene_site": gene_site,
            "negative_regions": negative_regions,
            "negatives_per_positive": fold,
            "merge_distance": merge_distance,
            "min_distance": min_distance,
            "max_distance": max_distance,
            "min_gap": min_gap,
            "distance_bins": n_bins,
        },
        "counts": counts,
        "negatives_per_positive": round(len(negatives) / len(positives), 4),
        "distance": {
            "log10_bin_edges": [round(float(e), 4) for e in edges],
            "positives": np.bincount(distance_bins(pos_d, edges), minlength=n_bins).tolist(),
            "negatives": np.bincount(distance_bins(neg_d, edges), minlength=n_bins).tolist(),
            "ks_statistic": round(float(ks.statistic), 6),
            "ks_pvalue": round(float(ks.pvalue), 6),
        },
        "anchor_size": {
            "min": int(sizes.min()),
            "median": float(np.median(sizes)),
            "max": int(sizes.max()),
        },
    }
    return pairs, report


def _anchor_sizes(positives: pd.DataFrame, anchors: pd.DataFrame) -> np.ndarray:
    used = anchors.iloc[np.unique(positives[["anchor1", "anchor2"]].to_numpy())]
    return (used["end"] - used["start"]).to_numpy()


def _positives(
    loops: pd.DataFrame,
    genes: pd.DataFrame,
    *,
    gene_site: GeneSite,
    merge_distance: int,
    min_distance: int,
    max_distance: int,
    source: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Steps 1-3: standardise, merge and cluster, keep gene-gene interactions in range."""
    standard, known, counts = standardize_loops(loops)
    if standard.empty:
        raise BadInputError(
            f"{source}: no usable loop (need intrachromosomal loops on chr1-22, X or Y with "
            f"disjoint anchors; dropped: {counts}). Check the file holds loops."
        )
    anchors, interactions, cluster_counts = cluster_loops(standard, merge_distance=merge_distance)
    counts.update(cluster_counts)
    found = gene_interactions(anchors, interactions, gene_sites(genes, gene_site=gene_site))
    counts["gene_gene_interactions"] = len(found)
    in_range = found["distance"].between(min_distance, max_distance)
    counts["positives_out_of_distance_range"] = int((~in_range).sum())
    positives = found[in_range].reset_index(drop=True)
    counts["positives"] = len(positives)
    if positives.empty:
        raise BadInputError(
            f"{source}: no loop joins two distinct genes at {min_distance}-{max_distance} bp, so "
            "there are no positives. Check that loops and genes share a genome build (hg19) and "
            "chromosome names, or try --gene-site body."
        )
    return positives, anchors, known, counts


def _negatives(
    positives: pd.DataFrame,
    anchors: pd.DataFrame,
    known: pd.DataFrame,
    *,
    genes: pd.DataFrame,
    ctcf: pd.DataFrame | None,
    negative_regions: NegativeRegions,
    rng: np.random.Generator,
    fold: int,
    edges: np.ndarray,
    min_distance: int,
    max_distance: int,
    min_gap: int,
    source: str,
) -> tuple[pd.DataFrame, dict]:
    """Steps 4-5: candidates from each source, the known-loop filter, distance-matched sampling."""
    pos_anchors = anchors.iloc[np.unique(positives[["anchor1", "anchor2"]].to_numpy())]
    sizes = (pos_anchors["end"] - pos_anchors["start"]).to_numpy()
    grid = int(np.gcd.reduce(pos_anchors[["start", "end"]].to_numpy().ravel()))
    counts: dict = {"positive_anchors": len(pos_anchors), "anchor_grid": grid}
    span = positives["start2"] + positives["end2"] - positives["start1"] - positives["end1"]
    pos_bins = distance_bins(positives["distance"].to_numpy(), edges)
    demand = dict(
        edges=edges,
        bin_demand=fold * np.bincount(pos_bins, minlength=len(edges) - 1),
        span_demand=span.value_counts().sort_index() * fold,
        min_distance=min_distance,
        max_distance=max_distance,
        min_gap=min_gap,
    )
    regions = {"anchor_pair": pos_anchors[["chrom", "start", "end", "cluster"]]}
    chroms = set(positives["chrom"])  # negatives are drawn where positives are
    if ctcf is not None:
        peaks = ctcf[ctcf["chrom"].isin(chroms)]
        counts["ctcf_peaks_used"] = len(peaks)
        regions["ctcf_pair"] = resize_regions(peaks, sizes, rng, grid=grid)
    if negative_regions == "genes":
        nearby = genes[genes["chrom"].isin(chroms)]
        regions["gene_pair"] = resize_regions(nearby, sizes, rng, grid=grid)
    loop_ends = known_loop_ends(known)
    tables, counts["negative_candidates"] = [], {}
    for name, table in regions.items():
        found, n = candidate_pairs(table, source=name, loop_ends=loop_ends, rng=rng, **demand)
        tables.append(found)
        counts["negative_candidates"][name] = n
    if negative_regions == "genome":
        extents = genes.groupby("chrom", as_index=False).agg(
            start=("start", "min"), end=("end", "max")
        )
        found, n = genome_pairs(
            positives,
            extents=extents,
            sizes=sizes,
            loop_ends=loop_ends,
            edges=edges,
            rng=rng,
            per_positive=4 * fold,
            min_gap=min_gap,
        )
        tables.append(found)
        counts["negative_candidates"]["genome_pair"] = n
    coords = ["chrom", "start1", "end1", "start2", "end2"]
    candidates = pd.concat(tables, ignore_index=True).drop_duplicates(coords, ignore_index=True)
    negatives, counts["negatives_matched"] = sample_matched(
        positives, candidates, fold=fold, edges=edges
    )
    if negatives.empty:
        raise BadInputError(
            f"{source}: no negative pair could be drawn (every candidate is joined by a loop or "
            "out of range); give more genes or CTCF peaks."
        )
    counts["negatives"] = {s: int((negatives["source"] == s).sum()) for s in SOURCES}
    counts["negatives"]["total"] = len(negatives)
    return negatives, counts


def _default_genes(data_dir: Path | None) -> pd.DataFrame:
    """The project's gene annotation (hg19 gene bodies of allRNAseq.tsv) as ``chrom..name``."""
    from ai4loop_core.genes import load_annotation

    table = load_annotation(data_dir=data_dir)
    return table.rename(columns={"gene_id": "name"})[["chrom", "start", "end", "name"]]


def preprocess(
    loops: str | PathLike[str],
    *,
    name: str,
    out_dir: str | PathLike[str],
    genes: str | PathLike[str] = "default",
    ctcf: Sequence[str | PathLike[str]] = (),
    seed: int = 0,
    gene_site: GeneSite = "start",
    negative_regions: NegativeRegions = "genes",
    fold: int = 5,
    data_dir: Path | None = None,
) -> dict:
    """Turn a loop BEDPE into a labelled, distance-matched gene-pair set written to ``out_dir``.

    Steps: standardise loops; merge anchors closer than 2.5 kb and collapse loops onto them;
    positives are collapsed interactions whose anchors hold two distinct genes; negatives come
    from unlinked anchor pairs, CTCF-peak pairs (when ``ctcf`` is given) and gene-site pairs, drop
    any pair whose both anchors overlap a known loop's anchors, and are sampled ``fold`` per
    positive, matched on midpoint distance (5 kb-2 Mb): the same distance on the same
    chromosome where possible, else the same log10 bin.

    Parameters
    ----------
    loops
        BEDPE loop file (gzip allowed; a header line is skipped).
    name
        Prefix of the outputs ``<name>_pairs.csv``, ``<name>_pairs.bedpe``, ``<name>_report.json``.
    out_dir
        Output directory (created if needed); files are replaced atomically.
    genes
        ``default`` for the project's hg19 annotation, or a BED file of genes (4th column = name).
    ctcf
        CTCF peak files (BED/narrowPeak, or DRAGON per-chromosome lists, or a directory of them).
    seed, gene_site, negative_regions, fold
        See :func:`build_pairs`.
    data_dir
        Data directory for ``genes="default"``; default ``$AI4LOOP_DATA_DIR``.

    Returns
    -------
    dict
        The report (also written as JSON), with ``outputs``: the written paths.
    """
    loops = Path(loops)
    loop_table = read_loops(loops)
    if str(genes) == "default":
        gene_table = _default_genes(data_dir)
        genes_path = None
    else:
        genes_path = Path(genes)
        gene_table = read_regions(genes_path, kind="gene BED file")
    peak_tables = [read_regions(Path(p), kind="CTCF peak file") for p in ctcf]
    peaks = pd.concat(peak_tables, ignore_index=True) if peak_tables else None
    pairs, report = build_pairs(
        loop_table,
        gene_table,
        ctcf=peaks,
        gene_site=gene_site,
        negative_regions=negative_regions,
        seed=seed,
        fold=fold,
        source=str(loops),
    )
    report = {
        "name": name,
        "inputs": {
            "loops": describe_files([loops]),
            "genes": describe_files([genes_path]) if genes_path else DEFAULT_GENES_NOTE,
            "ctcf": describe_files([Path(p) for p in ctcf]) if ctcf else None,
        },
        "pair_csv_chromosomes": "numbers 1-22, 23 = X, 24 = Y (AI4Loop's convention)",
        **report,
    }
    paths = write_pair_set(pairs, report, out_dir=out_dir, name=name)
    return {**report, "outputs": {k: str(v) for k, v in paths.items()}}


#: The seven benchmark sets: loop file and CTCF peak files (registry paths) per cell line.
BENCHMARK_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "K562": (
        "ai4loop-upstream/data/K562_HiC_loop.bedpe",
        tuple(f"ctcf/K562_DRAGON/chip-seq_peak_{i}.txt" for i in range(1, 23)),
    ),
    "GM12878": (
        "ai4loop-upstream/data/GM12878_HiC_loop.bedpe",
        ("ctcf/wgEncodeAwgTfbsBroadGm12878CtcfUniPk.narrowPeak",),
    ),
    "HeLaS3": (
        "ai4loop-upstream/data/HeLa_HiC_loop.bedpe",
        ("ctcf/wgEncodeAwgTfbsBroadHelas3CtcfUniPk.narrowPeak",),
    ),
    "IMR90": ("ai4loop-upstream/data/IMR90_HiC_loop.bedpe", ()),
    "HMEC": ("hic-rao2014/GSE63525_HMEC_HiCCUPS_looplist.bed.gz", ()),
    "HUVEC": ("hic-rao2014/GSE63525_HUVEC_HiCCUPS_looplist.bed.gz", ()),
    "NHEK": ("hic-rao2014/GSE63525_NHEK_HiCCUPS_looplist.bed.gz", ()),
}


def build_benchmark_sets(
    out_dir: str | PathLike[str],
    *,
    cells: Sequence[str] | None = None,
    genes: str = BENCHMARK_GENES,
    seed: int = 0,
    data_dir: Path | None = None,
) -> pd.DataFrame:
    """Build the pair sets of the seven cell lines (:data:`BENCHMARK_SETS`) into ``out_dir``.

    Inputs come through the data registry; ``genes`` is a registry path or ``default``. Returns
    one row per cell line: ``cell, positives, negatives, ratio, ks_pvalue, seconds``.
    """
    from ai4loop_core.data import ensure_file

    rows = []
    for cell in cells or list(BENCHMARK_SETS):
        if cell not in BENCHMARK_SETS:
            raise BadInputError(f"unknown cell line {cell!r}; choose from {list(BENCHMARK_SETS)}")
        loop_path, peak_paths = BENCHMARK_SETS[cell]
        loops = ensure_file(loop_path, data_dir=data_dir)
        peaks = [ensure_file(p, data_dir=data_dir) for p in peak_paths]
        gene_file = genes if genes == "default" else ensure_file(genes, data_dir=data_dir)
        began = time.perf_counter()
        report = preprocess(
            loops,
            name=cell,
            out_dir=out_dir,
            genes=gene_file,
            ctcf=peaks,
            seed=seed,
            data_dir=data_dir,
        )
        seconds = time.perf_counter() - began
        counts = report["counts"]
        rows.append(
            {
                "cell": cell,
                "positives": counts["positives"],
                "negatives": counts["negatives"]["total"],
                "ratio": report["negatives_per_positive"],
                "ks_pvalue": report["distance"]["ks_pvalue"],
                "seconds": round(seconds, 1),
            }
        )
    return pd.DataFrame(rows)
