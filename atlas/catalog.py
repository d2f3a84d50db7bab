"""GGI catalogs: the gene pairs an atlas scores, with gene-body anchors and stable ``ggi_id``.

Catalogs (``build_catalog(name)``):

``default``
    The published AI4Loop GGIs (the 2,808 distinct pairs of ``ai4loop-pancancer-atlas``: GGI-all,
    GGI-cancer, GGI-healthy and the per-cancer lists) plus every gene pair supported by a Hi-C loop
    of a cell line we have (the 4 AI4Loop BEDPE files and the 6 Rao et al. 2014 HiCCUPS lists): a
    loop whose two anchors overlap two distinct genes gives those genes as a pair, kept when the
    gene midpoints are 1 kb-2 Mb apart (:data:`HIC_RANGE`, the published universe's range).
``published``
    The published GGIs only (the demo's catalog: 2,703 gene pairs, cheap on 2 cores).
``expressed``
    Every intrachromosomal pair of genes expressed in the cohort with anchor midpoints 5 kb-2 Mb
    apart. A gene is expressed when its median TPM over the samples of at least one group is
    >= 1 (:data:`EXPRESSED_MIN_TPM`): the genome-wide landscape of that cohort.
``all-pairs``
    Every annotated gene pair 5 kb-2 Mb apart.

Anchors are gene bodies on the annotation's hg19 coordinates (:func:`ai4loop_core.genes.
load_annotation`); a published gene missing from the annotation keeps its published coordinates.
``gene1`` is the gene with the smaller midpoint. ``distance`` is the distance between the anchor
midpoints.

``ggi_id`` (int32) is a function of the gene pair and the annotation only, so it is the same in
every catalog and every build: genes are ranked by (chromosome, midpoint, gene id), and the id is
the rank of the pair in the *universe* of all annotated intrachromosomal pairs 1 kb-3 Mb apart
(:data:`UNIVERSE`; it contains ``all-pairs`` and nearly all published and Hi-C pairs). The few
pairs outside it (a gene not in the annotation, or farther apart) get ids from
:data:`EXTRA_ID_BASE` on, in (gene_id1, gene_id2) order.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.data import ensure_file
from ai4loop_core.errors import BadInputError
from ai4loop_core.genome import normalize_chrom

__all__ = [
    "CATALOGS",
    "Catalog",
    "GeneIndex",
    "build_catalog",
    "expressed_genes",
    "hic_pairs",
    "published_pairs",
    "read_catalog",
]

CATALOGS = ("default", "published", "expressed", "all-pairs")
UNIVERSE = (1_000, 3_000_000)  # midpoint distance range of the ggi_id universe
PAIR_RANGE = (5_000, 2_000_000)  # expressed and all-pairs catalogs
HIC_RANGE = (1_000, 2_000_000)  # Hi-C supported pairs: the published universe's range
EXPRESSED_MIN_TPM = 1.0
EXTRA_ID_BASE = 1 << 30
GGI_COLUMNS = [
    "ggi_id", "gene_id1", "symbol1", "gene_id2", "symbol2", "chrom",
    "start1", "end1", "start2", "end2", "distance", "origin",
]  # fmt: skip

PUBLISHED_FILES = [
    "ai4loop-pancancer-atlas/GGI-all.csv",
    "ai4loop-pancancer-atlas/GGI-cancer.csv",
    "ai4loop-pancancer-atlas/GGI-healthy.csv",
]
PUBLISHED_CANCERS = (
    "ACC BLCA BRCA CESC COAD DLBC ESCA GBM HNSC KICH KIRC KIRP LAML LGG LIHC LUAD LUSC MESO OV "
    "PAAD PCPG PRAD READ SARC SKCM STAD TGCT THCA THYM UCEC UCS UVM"
).split()
HIC_FILES = {
    "ai4loop-upstream/data/GM12878_HiC_loop.bedpe": "GM12878",
    "ai4loop-upstream/data/HeLa_HiC_loop.bedpe": "HeLa-S3",
    "ai4loop-upstream/data/IMR90_HiC_loop.bedpe": "IMR90",
    "ai4loop-upstream/data/K562_HiC_loop.bedpe": "K562",
    "hic-rao2014/GSE63525_GM12878_replicate_HiCCUPS_looplist.bed.gz": "GM12878",
    "hic-rao2014/GSE63525_HMEC_HiCCUPS_looplist.bed.gz": "HMEC",
    "hic-rao2014/GSE63525_HUVEC_HiCCUPS_looplist.bed.gz": "HUVEC",
    "hic-rao2014/GSE63525_IMR90_HiCCUPS_looplist.bed.gz": "IMR90",
    "hic-rao2014/GSE63525_K562_HiCCUPS_looplist.bed.gz": "K562",
    "hic-rao2014/GSE63525_NHEK_HiCCUPS_looplist.bed.gz": "NHEK",
}
_VERSION = re.compile(r"\.\d+(_\d+)?$")


# ---------------------------------------------------------------------------------------------
# Genes and the id universe


def _chrom_order(chrom: pd.Series) -> np.ndarray:
    def key(name: str) -> int:
        tail = name[3:]
        return int(tail) if tail.isdigit() else {"X": 23, "Y": 24, "M": 25}.get(tail, 26)

    table = {c: key(c) for c in pd.unique(chrom)}
    return chrom.map(table).to_numpy(np.int64)


@dataclass(frozen=True)
class GeneIndex:
    """Annotation genes sorted by (chromosome, midpoint, gene id), with the id universe.

    ``genes`` is the sorted annotation (``gene_id``, ``symbol``, ``chrom``, ``start``, ``end``,
    ``mid``, ``key``: chromosome code * 1e10 + midpoint). ``lo[i]``/``hi[i]`` bound the partners
    ``j`` of gene ``i`` in the universe; ``offset[i]`` is the id of its first pair.
    """

    genes: pd.DataFrame
    position: dict[str, int]
    lo: np.ndarray
    hi: np.ndarray
    offset: np.ndarray

    @classmethod
    def from_annotation(cls, annotation: pd.DataFrame) -> GeneIndex:
        """Sort the annotation and lay out the ``ggi_id`` universe."""
        genes = annotation[["gene_id", "symbol", "chrom", "start", "end"]].copy()
        genes["chrom"] = genes["chrom"].map(normalize_chrom)
        genes["start"] = genes["start"].astype(np.int64)
        genes["end"] = genes["end"].astype(np.int64)
        genes["mid"] = genes["start"] + (genes["end"] - genes["start"]) // 2
        genes["key"] = _chrom_order(genes["chrom"]) * 10_000_000_000 + genes["mid"]
        genes = genes.sort_values(["key", "gene_id"], kind="stable").reset_index(drop=True)
        key = genes["key"].to_numpy()
        lo = np.searchsorted(key, key + UNIVERSE[0], side="left")
        hi = np.searchsorted(key, key + UNIVERSE[1], side="right")
        lo = np.maximum(lo, np.arange(len(key)) + 1)
        hi = np.maximum(hi, lo)
        counts = hi - lo
        offset = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        if counts.sum() >= EXTRA_ID_BASE:
            raise RuntimeError("ggi_id universe does not fit below EXTRA_ID_BASE")
        position = dict(zip(genes["gene_id"], range(len(genes)), strict=True))
        return cls(genes=genes, position=position, lo=lo, hi=hi, offset=offset)

    @property
    def universe_size(self) -> int:
        """Number of pairs in the id universe."""
        return int((self.hi - self.lo).sum())

    def pair_ids(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``ggi_id`` of sorted-gene pairs ``(i, j)`` with ``i < j``; -1 outside the universe."""
        i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
        inside = (j >= self.lo[i]) & (j < self.hi[i])
        return np.where(inside, self.offset[i] + (j - self.lo[i]), -1)

    def pairs_among(
        self, members: np.ndarray, *, min_distance: int, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every pair ``(i, j)``, ``i < j``, of sorted positions ``members`` within the range."""
        members = np.unique(np.asarray(members, np.int64))
        key = self.genes["key"].to_numpy()[members]
        lo = np.searchsorted(key, key + min_distance, side="left")
        hi = np.searchsorted(key, key + max_distance, side="right")
        lo = np.maximum(lo, np.arange(len(members)) + 1)
        counts = np.maximum(hi - lo, 0)
        first = np.repeat(np.arange(len(members)), counts)
        second = np.repeat(lo, counts) + _ranges(counts)
        return members[first], members[second]


def _ranges(lengths: np.ndarray) -> np.ndarray:
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - starts


# ---------------------------------------------------------------------------------------------
# The catalog object


@dataclass(frozen=True)
class Catalog:
    """A set of GGIs (the ``ggis`` table of docs/atlas-schema.md) and how it was made."""

    name: str
    ggis: pd.DataFrame
    description: str

    def __len__(self) -> int:
        return len(self.ggis)

    @property
    def sha256(self) -> str:
        """Hash of the pairs and anchors (what scoring depends on)."""
        digest = hashlib.sha256()
        for col in ["ggi_id", "start1", "end1", "start2", "end2"]:
            digest.update(np.ascontiguousarray(self.ggis[col].to_numpy(np.int64)).tobytes())
        for col in ["gene_id1", "gene_id2", "chrom"]:
            digest.update("\n".join(self.ggis[col].astype(str)).encode())
        return digest.hexdigest()

    def anchors(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Distinct anchors (``chrom``, ``start``, ``end``) and each GGI's left/right row."""
        g = self.ggis
        both = pd.DataFrame(
            {
                "chrom": np.concatenate([g["chrom"].to_numpy(), g["chrom"].to_numpy()]),
                "start": np.concatenate([g["start1"].to_numpy(), g["start2"].to_numpy()]),
                "end": np.concatenate([g["end1"].to_numpy(), g["end2"].to_numpy()]),
            }
        )
        codes, uniques = pd.MultiIndex.from_frame(both).factorize()
        anchors = uniques.to_frame(index=False).set_axis(["chrom", "start", "end"], axis=1)
        n = len(g)
        return anchors, codes[:n].astype(np.int64), codes[n:].astype(np.int64)

    def summary(self) -> dict[str, object]:
        """Size, distinct genes and anchors, origin counts: for the manifest and the log."""
        genes = pd.unique(pd.concat([self.ggis["gene_id1"], self.ggis["gene_id2"]]))
        origins = self.ggis["origin"].str.split(";").explode()
        origins = origins.str.replace(r"^hic:.*", "hic", regex=True)
        return {
            "name": self.name,
            "size": len(self.ggis),
            "genes": len(genes),
            "origins": {k: int(v) for k, v in origins.value_counts().sort_index().items()},
            "sha256": self.sha256,
            "description": self.description,
        }


def _assemble(
    index: GeneIndex, i: np.ndarray, j: np.ndarray, origin: np.ndarray | str
) -> pd.DataFrame:
    g = index.genes
    a, b = g.iloc[i].reset_index(drop=True), g.iloc[j].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "ggi_id": index.pair_ids(i, j),
            "gene_id1": a["gene_id"].to_numpy(),
            "symbol1": a["symbol"].to_numpy(),
            "gene_id2": b["gene_id"].to_numpy(),
            "symbol2": b["symbol"].to_numpy(),
            "chrom": a["chrom"].to_numpy(),
            "start1": a["start"].to_numpy(),
            "end1": a["end"].to_numpy(),
            "start2": b["start"].to_numpy(),
            "end2": b["end"].to_numpy(),
            "distance": (b["mid"] - a["mid"]).abs().to_numpy(),
        }
    )
    out["origin"] = origin
    return out


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Give ids to pairs outside the universe, set dtypes, sort by ggi_id."""
    frame = frame.reset_index(drop=True)
    extra = frame["ggi_id"] < 0
    if extra.any():
        order = frame.loc[extra].sort_values(["gene_id1", "gene_id2"], kind="stable").index
        frame.loc[order, "ggi_id"] = EXTRA_ID_BASE + np.arange(len(order))
    frame["ggi_id"] = frame["ggi_id"].astype(np.int32)
    for col in ["start1", "end1", "start2", "end2", "distance"]:
        frame[col] = frame[col].astype(np.int64)
    for col in ["gene_id1", "symbol1", "gene_id2", "symbol2", "chrom", "origin"]:
        frame[col] = frame[col].astype("string")
    frame = frame.sort_values("ggi_id", kind="stable").reset_index(drop=True)
    if frame["ggi_id"].duplicated().any():
        raise RuntimeError("duplicate ggi_id in catalog")
    return frame[GGI_COLUMNS]


# ---------------------------------------------------------------------------------------------
# Sources


def published_pairs(*, data_dir: Path | None = None) -> pd.DataFrame:
    """The distinct published GGIs: ``rid`` (upstream row id), gene ids, symbols, coordinates."""
    frames = []
    paths = PUBLISHED_FILES + [
        f"ai4loop-pancancer-atlas/per-cancer/{c}.GGI.csv" for c in PUBLISHED_CANCERS
    ]
    for rel in paths:
        path = ensure_file(rel, data_dir=data_dir)
        table = pd.read_csv(path, dtype={"gene1": str, "gene2": str})
        need = {"chr1", "x1", "x2", "gene1", "gene1Sym", "chr2", "y1", "y2", "gene2", "gene2Sym"}
        if not need.issubset(table.columns):
            raise BadInputError(f"{path}: line 1 lacks columns {sorted(need - set(table.columns))}")
        table = table.rename(columns={table.columns[0]: "rid"})
        frames.append(table[["rid", *sorted(need)]])
    out = pd.concat(frames, ignore_index=True).drop_duplicates("rid")
    for col in ("gene1", "gene2"):
        out[col] = out[col].str.replace(_VERSION, "", regex=True)
    return out.sort_values("rid").reset_index(drop=True)


def _read_loops(path: Path) -> pd.DataFrame:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        table = pd.read_csv(handle, sep="\t", header=None, usecols=range(6), dtype=str)
    num = table[[1, 2, 4, 5]].apply(pd.to_numeric, errors="coerce")
    keep = num.notna().all(axis=1)  # drops a header line if there is one
    out = pd.DataFrame(
        {
            "chrom1": table.loc[keep, 0].map(normalize_chrom),
            "start1": num.loc[keep, 1].astype(np.int64),
            "end1": num.loc[keep, 2].astype(np.int64),
            "chrom2": table.loc[keep, 3].map(normalize_chrom),
            "start2": num.loc[keep, 4].astype(np.int64),
            "end2": num.loc[keep, 5].astype(np.int64),
        }
    )
    return out[out["chrom1"] == out["chrom2"]].reset_index(drop=True)


def _overlapping_genes(
    index: GeneIndex, chrom: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(interval row, sorted gene position) for every gene body overlapping an interval."""
    g = index.genes
    rows, genes = [], []
    for c, idx in pd.Series(np.arange(len(chrom))).groupby(chrom):
        pos = np.flatnonzero(g["chrom"].to_numpy() == c)
        if not len(pos):
            continue
        gs, ge = g["start"].to_numpy()[pos], g["end"].to_numpy()[pos]
        idx = idx.to_numpy()
        for lo in range(0, len(idx), 512):
            part = idx[lo : lo + 512]
            hit = (gs[None, :] < end[part, None]) & (ge[None, :] > start[part, None])
            r, k = np.nonzero(hit)
            rows.append(part[r])
            genes.append(pos[k])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(genes)


def hic_pairs(index: GeneIndex, *, data_dir: Path | None = None) -> pd.DataFrame:
    """Gene pairs whose bodies overlap the two anchors of a Hi-C loop: ``i``, ``j``, ``cells``."""
    found = []
    for rel, cell in HIC_FILES.items():
        loops = _read_loops(ensure_file(rel, data_dir=data_dir))
        r1, g1 = _overlapping_genes(
            index, loops["chrom1"].to_numpy(), loops["start1"].to_numpy(), loops["end1"].to_numpy()
        )
        r2, g2 = _overlapping_genes(
            index, loops["chrom2"].to_numpy(), loops["start2"].to_numpy(), loops["end2"].to_numpy()
        )
        left = pd.DataFrame({"loop": r1, "a": g1})
        right = pd.DataFrame({"loop": r2, "b": g2})
        pairs = left.merge(right, on="loop")
        pairs = pairs[pairs["a"] != pairs["b"]]
        mid = index.genes["mid"].to_numpy()
        gap = np.abs(mid[pairs["a"].to_numpy()] - mid[pairs["b"].to_numpy()])
        pairs = pairs[(gap >= HIC_RANGE[0]) & (gap <= HIC_RANGE[1])]
        i = np.minimum(pairs["a"], pairs["b"]).to_numpy()
        j = np.maximum(pairs["a"], pairs["b"]).to_numpy()
        found.append(pd.DataFrame({"i": i, "j": j, "cell": cell}))
    allp = pd.concat(found, ignore_index=True).drop_duplicates()
    cells = allp.groupby(["i", "j"])["cell"].agg(lambda s: ",".join(sorted(set(s))))
    return cells.rename("cells").reset_index()


def expressed_genes(
    genes: pd.DataFrame,
    values: np.ndarray,
    groups: np.ndarray,
    *,
    min_tpm: float = EXPRESSED_MIN_TPM,
) -> np.ndarray:
    """Gene ids whose median TPM over the samples of at least one group is >= ``min_tpm``."""
    groups = np.asarray(groups)
    keep = np.zeros(len(genes), dtype=bool)
    for group in pd.unique(groups):
        cols = np.flatnonzero(groups == group)
        keep |= np.median(values[:, cols], axis=1) >= min_tpm
    return pd.unique(genes["gene_id"].to_numpy()[keep])


# ---------------------------------------------------------------------------------------------
# Catalog builders


def build_catalog(
    name: str,
    *,
    annotation: pd.DataFrame | None = None,
    expressed: np.ndarray | list[str] | None = None,
    data_dir: Path | None = None,
) -> Catalog:
    """Build the catalog ``name`` (``default``, ``expressed``, ``all-pairs``) or read a file.

    Parameters
    ----------
    name
        A catalog name, or a path to a catalog file (see :func:`read_catalog`).
    annotation
        Gene annotation (default :func:`ai4loop_core.genes.load_annotation`).
    expressed
        For ``expressed``: the gene ids expressed in the cohort (:func:`expressed_genes`).
    """
    if name not in CATALOGS:
        path = Path(name)
        if path.exists():
            return read_catalog(path, annotation=annotation)
        raise BadInputError(
            f"--catalog {name!r}: not a catalog name ({', '.join(CATALOGS)}) nor an existing "
            "file of gene pairs."
        )
    if annotation is None:
        from ai4loop_core.genes import load_annotation

        annotation = load_annotation(data_dir=data_dir)
    index = GeneIndex.from_annotation(annotation)
    if name in ("default", "published"):
        return _default_catalog(index, data_dir=data_dir, with_hic=name == "default")
    if name == "expressed":
        if expressed is None:
            raise BadInputError("catalog 'expressed' needs the cohort's expressed genes.")
        known = [index.position[g] for g in expressed if g in index.position]
        i, j = index.pairs_among(np.asarray(known), min_distance=PAIR_RANGE[0],
                                 max_distance=PAIR_RANGE[1])  # fmt: skip
        desc = (
            f"every intrachromosomal pair of the {len(known)} genes expressed in the cohort "
            f"(median TPM >= {EXPRESSED_MIN_TPM:g} in at least one group), anchor midpoints "
            f"{PAIR_RANGE[0]:,}-{PAIR_RANGE[1]:,} bp apart"
        )
        return Catalog("expressed", _finish(_assemble(index, i, j, "expressed")), desc)
    i, j = index.pairs_among(np.arange(len(index.genes)), min_distance=PAIR_RANGE[0],
                             max_distance=PAIR_RANGE[1])  # fmt: skip
    desc = (
        f"every annotated intrachromosomal gene pair ({len(index.genes)} genes), anchor "
        f"midpoints {PAIR_RANGE[0]:,}-{PAIR_RANGE[1]:,} bp apart"
    )
    return Catalog("all-pairs", _finish(_assemble(index, i, j, "all-pairs")), desc)


def _default_catalog(index: GeneIndex, *, data_dir: Path | None, with_hic: bool) -> Catalog:
    pub = published_pairs(data_dir=data_dir)
    pos1 = pub["gene1"].map(index.position)
    pos2 = pub["gene2"].map(index.position)
    known = pos1.notna() & pos2.notna()
    a = pos1[known].astype(np.int64).to_numpy()
    b = pos2[known].astype(np.int64).to_numpy()
    pub_pairs = pd.DataFrame({"i": np.minimum(a, b), "j": np.maximum(a, b)}).drop_duplicates()
    pub_pairs = pub_pairs[pub_pairs["i"] != pub_pairs["j"]]
    pub_pairs["published"] = True
    hic = (
        hic_pairs(index, data_dir=data_dir)
        if with_hic
        else pd.DataFrame(
            {
                "i": pd.Series(dtype=np.int64),
                "j": pd.Series(dtype=np.int64),
                "cells": pd.Series(dtype="string"),
            }
        )
    )
    both = pub_pairs.merge(hic, on=["i", "j"], how="outer")
    origin = np.where(both["published"].fillna(False).astype(bool), "published", "")
    hic_text = ("hic:" + both["cells"]).where(both["cells"].notna(), "")
    origin = pd.Series(origin).str.cat(hic_text.to_numpy(), sep=";").str.strip(";")
    frame = _assemble(index, both["i"].to_numpy(), both["j"].to_numpy(), origin.to_numpy())
    # Published pairs with a gene outside the annotation keep their published coordinates.
    rest = pub[~known]
    if len(rest):
        extra = pd.DataFrame(
            {
                "ggi_id": -1,
                "gene_id1": rest["gene1"].to_numpy(),
                "symbol1": rest["gene1Sym"].to_numpy(),
                "gene_id2": rest["gene2"].to_numpy(),
                "symbol2": rest["gene2Sym"].to_numpy(),
                "chrom": rest["chr1"].map(normalize_chrom).to_numpy(),
                "start1": rest["x1"].to_numpy(),
                "end1": rest["x2"].to_numpy(),
                "start2": rest["y1"].to_numpy(),
                "end2": rest["y2"].to_numpy(),
            }
        )
        mid1 = extra["start1"] + (extra["end1"] - extra["start1"]) // 2
        mid2 = extra["start2"] + (extra["end2"] - extra["start2"]) // 2
        extra["distance"] = (mid2 - mid1).abs()
        extra["origin"] = "published"
        # gene1 = the gene with the smaller midpoint, as for annotated pairs; one row per pair
        swap = (mid2 < mid1).to_numpy()
        for a, b in (("gene_id1", "gene_id2"), ("symbol1", "symbol2"), ("start1", "start2"),
                     ("end1", "end2")):  # fmt: skip
            left, right = extra[a].to_numpy().copy(), extra[b].to_numpy().copy()
            extra[a] = np.where(swap, right, left)
            extra[b] = np.where(swap, left, right)
        extra = extra.drop_duplicates(["gene_id1", "gene_id2"])
        frame = pd.concat([frame, extra], ignore_index=True)
    desc = f"{len(pub)} published AI4Loop GGIs (gene bodies of the annotation as anchors)"
    if with_hic:
        desc += (
            " + gene pairs whose bodies overlap both anchors of a Hi-C loop "
            f"({', '.join(sorted(set(HIC_FILES.values())))}), midpoints 1 kb-2 Mb apart"
        )
    return Catalog("default" if with_hic else "published", _finish(frame), desc)


def read_catalog(path: Path | str, *, annotation: pd.DataFrame | None = None) -> Catalog:
    """A catalog from a file: a ``ggis.parquet`` of an atlas, or a CSV/TSV/Parquet of pairs.

    The file needs ``gene_id1`` and ``gene_id2`` (Ensembl ids or symbols); anchors, symbols and
    ids come from the annotation. Unknown genes are refused (the message lists them).
    """
    from ai4loop_core.genes import load_annotation, map_ids

    path = Path(path)
    if path.suffix == ".parquet":
        table = pd.read_parquet(path)
    else:
        sep = "\t" if path.suffix in {".tsv", ".txt"} or path.name.endswith(".tsv.gz") else ","
        table = pd.read_csv(path, sep=sep, dtype=str)
    missing = {"gene_id1", "gene_id2"} - set(table.columns)
    if missing:
        raise BadInputError(
            f"{path}: a catalog file needs columns gene_id1 and gene_id2; lacks {sorted(missing)}."
        )
    if annotation is None:
        annotation = load_annotation()
    index = GeneIndex.from_annotation(annotation)
    ids = []
    for col in ("gene_id1", "gene_id2"):
        mapped = map_ids(table[col].astype(str).tolist(), annotation)
        bad = mapped["gene_id"].isna().to_numpy()
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise BadInputError(
                f"{path}: line {r + 2}, column {col}: unknown gene {table[col].iloc[r]!r}; "
                f"{int(bad.sum())} such rows. Use Ensembl ids or symbols of the annotation."
            )
        ids.append(mapped["gene_id"].map(index.position).to_numpy(np.int64))
    a, b = ids
    keep = a != b
    i, j = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    pairs = pd.DataFrame({"i": i, "j": j}).drop_duplicates()
    origin = "file:" + path.name
    frame = _assemble(index, pairs["i"].to_numpy(), pairs["j"].to_numpy(), origin)
    return Catalog(path.stem, _finish(frame), f"gene pairs of {path}")
