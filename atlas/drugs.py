"""The LINCS drug atlas: GGI scores per well, drug signatures, connectivity ranking vs cancer sets.

:func:`build_drug_atlas` writes an atlas of kind ``drug`` (docs/atlas-schema.md):

1. **Inputs.** A Level 3 plate (default ``lincs/test_l1000.gct``: LJP005, A375, 24 h, 59 kinase
   inhibitors x 6 doses, 4 positive controls, 26 DMSO vehicle wells) and optionally Level 5
   signatures (default ``lincs/ds.RData``: 3 drugs x 65 cell lines). What the model receives at
   each level is in :mod:`atlas.lincs`: Level 3 log2 -> ``2**x * c`` (TPM-like); Level 5
   z-scores -> a pseudo Level 3 profile on the Level 3 plate population of the same cell line
   (only A375 has one here; the other cell lines are skipped and counted in the manifest).
2. **Catalog and coverage.** Candidate GGIs are, by default, every published pair
   (``ai4loop-pancancer-atlas``: 2,808 GGIs and 8,398 non-GGI candidates, published ``ggi_id``
   and coordinates) plus every pair of measured landmark genes on one chromosome with midpoints
   5 kb-2 Mb apart (annotation gene bodies; ``ggi_id`` = :data:`LANDMARK_ID_BASE` + rank in
   (chromosome, midpoint, gene id) order, stable for the same annotation and gene list). A GGI is
   kept when both anchors have coverage >= ``coverage_threshold`` (:func:`atlas.lincs.
   anchor_coverage`); ``ggis`` gets ``coverage1``/``coverage2``.
3. **Scores.** :func:`ai4loop_core.predict.predict_scores` with the measured genes on annotation
   coordinates (unmeasured genes are absent, not zero). ``scores.score`` is float16.
4. **Signatures.** Level 3: for each compound x dose x time x cell line x plate, the mean score of
   the treated wells minus the mean score of the vehicle (``ctl_vehicle``) wells of the same plate
   and cell line. Level 5: pseudo profile score minus the baseline (population median) score.
   Columns beyond the schema: ``level``, ``pert_dose_unit``, ``pert_type``.
5. **Ranking.** For each cancer-gain gene set (default: the published per-cancer specific lists and
   the pan-cancer gain list, :func:`atlas.published.published_gene_sets`), matched to the atlas
   by gene pair (so any ``ggi_id`` scheme works), a CMap-style weighted Kolmogorov-Smirnov
   enrichment score of the set in each signature's GGIs ranked by ``delta_score`` (GSEA running
   sum, weights ``|delta|``): positive = the drug raises the cancer-gain GGIs, negative =
   reverses them. ``p``: two-sided, from ``n_permutations`` random GGI sets of the same size;
   ``q``: Benjamini-Hochberg within each gene set and ``cell_id`` level. Signatures of the same
   drug, dose, time and cell line are averaged first (``n_signatures``); ``cell_id == "all"``
   averages those over cell lines. Levels are never mixed. Sets with no GGI in the atlas get no
   rows; every set's overlap is in the manifest (``gene_sets``) and in ``n_ggis_in_set``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.errors import BadInputError
from atlas import lincs

__all__ = [
    "COVERAGE_THRESHOLD",
    "DEFAULT_LEVEL3",
    "DEFAULT_LEVEL5",
    "benjamini_hochberg",
    "build_drug_atlas",
    "candidate_ggis",
    "connectivity",
    "drug_ranking",
    "measured_genes",
    "signatures_level3",
]

DEFAULT_LEVEL3 = "lincs/test_l1000.gct"
DEFAULT_LEVEL5 = "lincs/ds.RData"
COVERAGE_THRESHOLD = 0.5
COVERAGE_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
LANDMARK_RANGE = (5_000, 2_000_000)
LANDMARK_ID_BASE = 1 << 29
N_PERMUTATIONS = 1000
SMALL_SET = 5  # gene sets with fewer GGIs in the atlas are flagged as too small to interpret
GGI_COLUMNS = [
    "ggi_id", "gene_id1", "symbol1", "gene_id2", "symbol2", "chrom",
    "start1", "end1", "start2", "end2", "distance", "origin",
]  # fmt: skip
RANK_KEYS = ["level", "pert_iname", "pert_dose", "pert_dose_unit", "pert_time"]
RANKING_COLUMNS = [
    "gene_set", "pert_iname", "cell_id", "pert_dose", "pert_time", "score", "p", "q",
    "n_ggis_in_set", "n_signatures", "level", "pert_dose_unit", "n_cell_lines",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Genes, catalog, coverage


def measured_genes(gct: lincs.GCT, *, annotation: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Annotation rows of the genes a LINCS matrix measures, and the matrix row of each.

    Rows that map to no annotation gene are dropped; a gene measured by several rows keeps the
    first.
    """
    mapped = lincs.map_rows(gct, annotation=annotation)
    ok = mapped["gene_id"].notna() & ~mapped["gene_id"].duplicated()
    rows = np.flatnonzero(ok.to_numpy())
    ann = annotation.drop_duplicates("gene_id").set_index("gene_id")
    genes = ann.loc[mapped["gene_id"].iloc[rows], ["chrom", "start", "end", "symbol"]]
    genes = genes.reset_index().rename(columns={"index": "gene_id"})
    return genes, rows


def _landmark_pairs(genes: pd.DataFrame) -> pd.DataFrame:
    g = genes.copy()
    g["mid"] = g["start"] + (g["end"] - g["start"]) // 2
    order = {c: i for i, c in enumerate(sorted(g["chrom"].unique(), key=_chrom_key))}
    g["_c"] = g["chrom"].map(order)
    g = g.sort_values(["_c", "mid", "gene_id"], kind="stable").reset_index(drop=True)
    rows = []
    for _, d in g.groupby("_c", sort=True):
        mid = d["mid"].to_numpy()
        idx = d.index.to_numpy()
        for a in range(len(d)):
            gap = mid[a + 1 :] - mid[a]
            for b in np.flatnonzero((gap >= LANDMARK_RANGE[0]) & (gap <= LANDMARK_RANGE[1])):
                rows.append((idx[a], idx[a + 1 + b]))
    i = np.array([r[0] for r in rows], dtype=np.int64)
    j = np.array([r[1] for r in rows], dtype=np.int64)
    a, b = g.iloc[i].reset_index(drop=True), g.iloc[j].reset_index(drop=True)
    return pd.DataFrame(
        {
            "ggi_id": (LANDMARK_ID_BASE + np.arange(len(i))).astype(np.int32),
            "gene_id1": a["gene_id"],
            "symbol1": a["symbol"],
            "gene_id2": b["gene_id"],
            "symbol2": b["symbol"],
            "chrom": a["chrom"],
            "start1": a["start"].astype(np.int64),
            "end1": a["end"].astype(np.int64),
            "start2": b["start"].astype(np.int64),
            "end2": b["end"].astype(np.int64),
            "distance": (b["mid"] - a["mid"]).astype(np.int64).to_numpy(),
            "origin": "landmark-pairs",
        }
    )


def _chrom_key(name: str) -> tuple[int, str]:
    tail = name[3:] if name.startswith("chr") else name
    return (int(tail), "") if tail.isdigit() else (100, tail)


def _pair_key(a: pd.Series, b: pd.Series) -> pd.Series:
    a, b = a.astype("str"), b.astype("str")
    return pd.Series(np.where(a <= b, a + "|" + b, b + "|" + a), index=a.index)


def candidate_ggis(genes: pd.DataFrame, *, data_dir: Path | None = None) -> pd.DataFrame:
    """The default candidates: all published pairs plus pairs of measured genes (module doc).

    Returns the ``ggis`` columns plus ``published_table`` (missing for landmark pairs). A
    landmark pair that is also a published pair is kept once, as the published row.
    """
    from atlas.published import _ggis, read_published

    published = _ggis(read_published(data_dir=data_dir))
    published = published[[*GGI_COLUMNS, "published_table"]]
    landmark = _landmark_pairs(genes)
    seen = set(_pair_key(published["gene_id1"], published["gene_id2"]))
    landmark = landmark[~_pair_key(landmark["gene_id1"], landmark["gene_id2"]).isin(seen)]
    out = pd.concat([published, landmark], ignore_index=True)
    out["ggi_id"] = out["ggi_id"].astype(np.int32)
    return out


def _anchors(ggis: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    both = pd.DataFrame(
        {
            "chrom": np.concatenate([ggis["chrom"].to_numpy(), ggis["chrom"].to_numpy()]),
            "start": np.concatenate([ggis["start1"].to_numpy(), ggis["start2"].to_numpy()]),
            "end": np.concatenate([ggis["end1"].to_numpy(), ggis["end2"].to_numpy()]),
        }
    )
    codes, uniques = pd.MultiIndex.from_frame(both).factorize()
    anchors = uniques.to_frame(index=False).set_axis(["chrom", "start", "end"], axis=1)
    n = len(ggis)
    return anchors, codes[:n].astype(np.int64), codes[n:].astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Signatures


def signatures_level3(samples: pd.DataFrame, scores: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Treated-minus-vehicle score changes per compound x dose x time x cell line x plate.

    Parameters
    ----------
    samples
        The ``samples`` rows of the scored wells (:func:`atlas.lincs.sample_table`), in the
        column order of ``scores``.
    scores
        ``(n_ggis, n_wells)`` GGI scores.

    Returns
    -------
    tuple
        The signature metadata (``signature_id``, ``pert_iname``, ``pert_dose``,
        ``pert_dose_unit``, ``pert_time``, ``cell_id``, ``plate``, ``pert_type``, ``n_treated``,
        ``n_vehicle``) and the ``(n_ggis, n_signatures)`` deltas. Groups whose plate and cell line
        have no vehicle well are left out.
    """
    s = samples.reset_index(drop=True)
    keys = ["plate", "cell_id", "pert_iname", "pert_dose", "pert_dose_unit", "pert_time",
            "pert_type"]  # fmt: skip
    vehicle = s["tissue_type"] == "vehicle"
    meta, deltas = [], []
    veh_groups = {k: v.index.to_numpy() for k, v in s[vehicle].groupby(["plate", "cell_id"])}
    for key, group in s[~vehicle].groupby(keys, dropna=False, sort=True):
        veh = veh_groups.get((key[0], key[1]))
        if veh is None or not len(veh):
            continue
        treated = group.index.to_numpy()
        deltas.append(scores[:, treated].mean(axis=1) - scores[:, veh].mean(axis=1))
        row = dict(zip(keys, key, strict=True))
        row["signature_id"] = _signature_id(row)
        row["n_treated"], row["n_vehicle"] = len(treated), len(veh)
        meta.append(row)
    table = pd.DataFrame(meta, columns=["signature_id", *keys, "n_treated", "n_vehicle"])
    matrix = np.column_stack(deltas) if deltas else np.zeros((scores.shape[0], 0), np.float32)
    return table, matrix.astype(np.float32)


def _signature_id(row: dict) -> str:
    dose = "" if pd.isna(row["pert_dose"]) else f"{row['pert_dose']:g}{row['pert_dose_unit']}"
    time = "" if pd.isna(row["pert_time"]) else f"{row['pert_time']:g}h"
    return f"{row['plate']}:{row['cell_id']}:{row['pert_iname']}:{dose}:{time}"


# ---------------------------------------------------------------------------------------------
# Connectivity


def _ks(pos: np.ndarray, weights: np.ndarray, n_total: int) -> np.ndarray:
    """Weighted KS enrichment of sets given by sorted rank positions ``pos`` ``(P, n)``."""
    n = pos.shape[1]
    w = weights[pos]
    total = w.sum(axis=1, keepdims=True)
    flat = total[:, 0] <= 0
    if flat.any():  # every member has delta 0: unweighted
        w[flat] = 1.0
        total[flat] = n
    hit = np.cumsum(w, axis=1) / total
    misses = (pos + 1 - np.arange(1, n + 1)) / (n_total - n)
    top = (hit - misses).max(axis=1)
    bottom = (hit - w / total - misses).min(axis=1)
    return np.where(top >= -bottom, top, bottom)


def connectivity(
    deltas: np.ndarray,
    members: np.ndarray,
    *,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """CMap-style weighted KS score of one GGI set in each signature, with permutation p.

    Parameters
    ----------
    deltas
        ``(n_ggis, n_signatures)`` score changes.
    members
        Row indices (into ``deltas``) of the set's GGIs.
    n_permutations
        Random sets of the same size; random sets are uniform over rank positions, so one draw
        serves every signature.

    Returns
    -------
    tuple of numpy.ndarray
        Enrichment scores in [-1, 1] (positive: the set sits at the top, i.e. the drug raises
        those GGIs) and two-sided p-values ``(1 + #|null| >= |score|) / (1 + n_permutations)``.
        NaN when the set is empty or holds every GGI.
    """
    deltas = np.asarray(deltas, dtype=np.float64)
    n_total, n_sig = deltas.shape
    members = np.unique(np.asarray(members, dtype=np.int64))
    n = len(members)
    if n == 0 or n >= n_total:
        return np.full(n_sig, np.nan), np.full(n_sig, np.nan)
    rng = np.random.default_rng(seed)
    null_pos = np.sort(rng.random((n_permutations, n_total)).argpartition(n - 1, axis=1)[:, :n])
    scores, pvalues = np.empty(n_sig), np.empty(n_sig)
    for k in range(n_sig):
        order = np.argsort(-deltas[:, k], kind="stable")
        rank = np.empty(n_total, dtype=np.int64)
        rank[order] = np.arange(n_total)
        weights = np.abs(deltas[order, k])
        obs = _ks(np.sort(rank[members])[None, :], weights, n_total)[0]
        null = _ks(null_pos, weights, n_total)
        scores[k] = obs
        pvalues[k] = (1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / (1 + n_permutations)
    return scores, pvalues


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN kept as NaN)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not len(ok):
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adj = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(adj[::-1])[::-1])
    return q


def _consensus(sig: pd.DataFrame, deltas: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Average signatures per drug x dose x time x cell line, then over cell lines (``all``)."""
    s = sig.reset_index(drop=True)
    metas, cols = [], []
    for key, group in s.groupby([*RANK_KEYS, "cell_id"], dropna=False, sort=True):
        metas.append({**dict(zip([*RANK_KEYS, "cell_id"], key, strict=True)),
                      "n_signatures": len(group)})  # fmt: skip
        cols.append(deltas[:, group.index.to_numpy()].mean(axis=1))
    per_cell = pd.DataFrame(metas)
    per_cell_matrix = np.column_stack(cols) if cols else np.zeros((deltas.shape[0], 0))
    metas, cols = [], []
    for key, group in per_cell.groupby(RANK_KEYS, dropna=False, sort=True):
        metas.append({**dict(zip(RANK_KEYS, key, strict=True)), "cell_id": "all",
                      "n_signatures": int(group["n_signatures"].sum()),
                      "n_cell_lines": len(group)})  # fmt: skip
        cols.append(per_cell_matrix[:, group.index.to_numpy()].mean(axis=1))
    per_cell["n_cell_lines"] = 1
    table = pd.concat([per_cell, pd.DataFrame(metas)], ignore_index=True)
    matrix = np.column_stack([per_cell_matrix, *cols]) if cols else per_cell_matrix
    return table, matrix


def _match_sets(gene_sets: pd.DataFrame, ggis: pd.DataFrame) -> dict[str, np.ndarray]:
    """Atlas row indices of each gene set's GGIs, matched by gene pair.

    A member matches the atlas rows with the same ordered pair (``gene_id1``, ``gene_id2``); only
    when there is none, the rows with the pair in the other order. Order matters: the model is
    not symmetric in its two anchors, and the published tables hold some pairs both ways with
    different results (RBM6-GPX1 is LIHC specific, GPX1-RBM6 a non-GGI).
    """
    need = {"gene_set", "gene_id1", "gene_id2"}
    if not need.issubset(gene_sets.columns):
        raise BadInputError(
            f"gene_sets lacks columns {sorted(need - set(gene_sets.columns))}; give a table like "
            "atlas.published.published_gene_sets() (gene_set, gene_id1, gene_id2)."
        )
    ordered: dict[tuple[str, str], list[int]] = {}
    firsts, seconds = ggis["gene_id1"].astype("str"), ggis["gene_id2"].astype("str")
    for i, pair in enumerate(zip(firsts, seconds, strict=True)):
        ordered.setdefault(pair, []).append(i)
    out = {}
    members = gene_sets.assign(
        _a=gene_sets["gene_id1"].astype("str"), _b=gene_sets["gene_id2"].astype("str")
    )
    for name, group in members.groupby("gene_set", sort=False):
        hits: set[int] = set()
        for a, b in zip(group["_a"], group["_b"], strict=True):
            hits.update(ordered.get((a, b)) or ordered.get((b, a)) or [])
        out[str(name)] = np.array(sorted(hits), dtype=np.int64)
    return out


def drug_ranking(
    signatures: pd.DataFrame,
    deltas: np.ndarray,
    *,
    sets: dict[str, np.ndarray],
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
) -> pd.DataFrame:
    """The ``drug_ranking`` table for signatures (with ``level``) and matched gene sets."""
    frames = []
    for _, part in signatures.groupby("level", sort=True):
        idx = part.index.to_numpy()
        table, matrix = _consensus(part, deltas[:, idx])
        for name, members in sets.items():
            if not len(members):
                continue
            score, p = connectivity(matrix, members, n_permutations=n_permutations, seed=seed)
            frame = table.assign(gene_set=name, score=score, p=p, n_ggis_in_set=len(members))
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["q"] = np.nan
    for _, group in out.groupby(["gene_set", out["cell_id"] == "all", "level"]):
        out.loc[group.index, "q"] = benjamini_hochberg(group["p"].to_numpy())
    out = out[RANKING_COLUMNS]
    out["score"] = out["score"].astype(np.float32)
    out["n_ggis_in_set"] = out["n_ggis_in_set"].astype(np.int32)
    out["n_signatures"] = out["n_signatures"].astype(np.int32)
    out["n_cell_lines"] = out["n_cell_lines"].astype(np.int32)
    out["level"] = out["level"].astype(np.int8)
    return out.sort_values(["gene_set", "level", "cell_id", "score"], kind="stable").reset_index(
        drop=True
    )


# ---------------------------------------------------------------------------------------------
# The build


def _registry_entry(path: Path, rel: str | None) -> dict[str, str]:
    from ai4loop_core.data import registry

    if rel is not None:
        row = registry().set_index("path").loc[rel]
        return {"path": rel, "sha256": row["sha256"]}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "sha256": digest}


def _resolve(
    given: Path | str | None, default: str, data_dir: Path | None
) -> tuple[Path, str | None]:
    from ai4loop_core.data import ensure_file

    if given is None:
        return ensure_file(default, data_dir=data_dir), default
    return Path(given), None


@dataclass
class _Profiles:
    """Everything scored: sample rows, genes, log2 profiles (genes x samples), provenance."""

    samples: pd.DataFrame
    genes: pd.DataFrame
    log2: np.ndarray
    scale_constant: float
    cohorts: list[dict]
    level5: pd.DataFrame | None = None  # one row per Level 5 signature scored


def _level3(
    path: Path, rel: str | None, annotation: pd.DataFrame, data_dir: Path | None
) -> _Profiles:
    gct = lincs.read_lincs(path)
    _, why = lincs.require_level(
        gct,
        str(path),
        level3=True,
        advice="The drug atlas needs a Level 3 plate (log2 expression with vehicle wells) to "
        "score the model on. Give a Level 3 GCT/GCTX as level3= and Level 4/5 z-scores as "
        "level5=.",
    )
    genes, rows = measured_genes(gct, annotation=annotation)
    wells = lincs.sample_table(gct, cohort=f"LINCS L1000 Level 3 ({path.name})")
    vehicle = (wells["tissue_type"] == "vehicle").to_numpy()
    if not vehicle.any():
        raise BadInputError(
            f"{path}: no vehicle-control column (pert_type 'ctl_vehicle'); signatures are "
            "treated minus same-plate vehicle wells, so the plate needs vehicle wells."
        )
    log2 = gct.values[rows]
    reference = lincs.reference_tpm(genes["gene_id"], data_dir=data_dir)
    constant = lincs.level3_scale_constant(log2[:, vehicle], reference)
    cohort = {
        **_registry_entry(path, rel),
        "cohort": wells["cohort"].iloc[0],
        "format": f"GCT {gct.version}",
        "level": 3,
        "level_detected_by": why,
        "columns": int(gct.values.shape[1]),
        "genes_measured": int(gct.values.shape[0]),
        "genes_mapped": len(genes),
        "scale": f"tpm_like = 2**log2 * {constant:.6g}",
        "scale_rule": "one constant per plate: median of the vehicle wells over the measured "
        "genes = median TPM of the same genes in ENCODE RNA-seq (allRNAseq.tsv, 7 cell lines)",
        "reference_median_tpm": reference,
    }
    return _Profiles(wells, genes, log2, constant, [cohort])


def _add_level5(
    prof: _Profiles, path: Path, rel: str | None, annotation: pd.DataFrame
) -> _Profiles:
    """Append pseudo Level 3 profiles of the Level 4/5 signatures whose cell line has a plate."""
    gct = lincs.read_lincs(path)
    level, why = lincs.require_level(
        gct, str(path), level3=False, advice="level5= takes z-scores; give this plate as level3=."
    )
    mapped = lincs.map_rows(gct, annotation=annotation)
    row_of = {g: i for i, g in enumerate(mapped["gene_id"]) if isinstance(g, str)}
    have = prof.genes["gene_id"].isin(list(row_of)).to_numpy()
    rows = [row_of[g] for g in prof.genes["gene_id"][have]]
    sigs = lincs.sample_table(gct, cohort=f"LINCS L1000 Level {level} ({path.name})")
    wells = prof.samples
    cells = sorted(set(sigs["cell_id"]) & set(wells["cell_id"]))
    samples, profiles, meta = [prof.samples], [prof.log2], []
    for cell in cells:
        cols = np.flatnonzero((wells["cell_id"] == cell).to_numpy())
        sel = np.flatnonzero((sigs["cell_id"] == cell).to_numpy())
        median, spread = lincs.robust_z(prof.log2[:, cols])
        z = np.zeros((len(prof.genes), len(sel)))  # unmeasured in the signature: no change
        z[have] = gct.values[rows][:, sel]
        profiles += [lincs.invert_z(z, median=median, spread=spread), median[:, None]]
        base = {
            "sample_id": f"baseline:{cell}", "group": cell, "tissue_type": "vehicle",
            "cohort": sigs["cohort"].iloc[0], "source": "built here",
            "pert_iname": "plate population median (Level 3)", "pert_dose": np.nan,
            "pert_dose_unit": "", "pert_time": np.nan, "cell_id": cell, "pert_type": "baseline",
            "plate": ",".join(sorted(set(wells["plate"].iloc[cols]))),
        }  # fmt: skip
        samples += [sigs.iloc[sel], pd.DataFrame([base])]
        n_treated = pd.to_numeric(
            gct.col_meta.iloc[sel].get("distil_nsample", pd.Series(1, index=sel)), errors="coerce"
        )
        meta.append(
            sigs.iloc[sel].assign(
                n_treated=n_treated.fillna(1).astype(int).to_numpy(),
                n_vehicle=len(cols),
                baseline=base["sample_id"],
                level=level,
            )
        )
    used = sigs["cell_id"].isin(cells)
    prof.cohorts.append(
        {
            **_registry_entry(path, rel),
            "cohort": sigs["cohort"].iloc[0],
            "format": f"GCT {gct.version}",
            "level": level,
            "level_detected_by": why,
            "scale": "pseudo Level 3: median + z * 1.4826 * max(MAD, 0.1) over the Level 3 plate "
            "population of the same cell line, then the Level 3 scale",
            "signatures": len(sigs),
            "signatures_scored": int(used.sum()),
            "signatures_skipped": int((~used).sum()),
            "cell_lines_scored": cells,
            "cell_lines_skipped": int(sigs.loc[~used, "cell_id"].nunique()),
            "why_skipped": "no Level 3 plate of that cell line to invert the z-scores on",
            "genes_missing": int((~have).sum()),
        }
    )
    if not cells:
        return prof
    return _Profiles(
        samples=pd.concat(samples, ignore_index=True),
        genes=prof.genes,
        log2=np.column_stack(profiles),
        scale_constant=prof.scale_constant,
        cohorts=prof.cohorts,
        level5=pd.concat(meta, ignore_index=True),
    )


def _candidates(
    catalog: pd.DataFrame | None, genes: pd.DataFrame, data_dir: Path | None
) -> tuple[pd.DataFrame, str]:
    if catalog is None:
        return candidate_ggis(genes, data_dir=data_dir), "lincs-default"
    missing = [c for c in GGI_COLUMNS if c not in catalog.columns]
    if missing:
        raise BadInputError(f"catalog lacks the ggis columns {missing} (docs/atlas-schema.md).")
    return catalog.copy(), "given"


def _signatures(prof: _Profiles, scores: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Signature metadata (with ``level``) and deltas ``(n_ggis, n_signatures)``, all levels."""
    s = prof.samples
    is3 = (s["cohort"] == prof.cohorts[0]["cohort"]).to_numpy()
    meta, deltas = signatures_level3(s[is3], scores[:, is3])
    meta["level"] = 3
    if prof.level5 is None:
        return meta, deltas
    col = {sample: i for i, sample in enumerate(s["sample_id"])}
    l5 = prof.level5
    d5 = np.column_stack(
        [
            scores[:, col[sig]] - scores[:, col[base]]
            for sig, base in zip(l5["sample_id"], l5["baseline"], strict=True)
        ]
    )
    l5 = l5.rename(columns={"sample_id": "signature_id"})[[*meta.columns]]
    return pd.concat([meta, l5], ignore_index=True), np.column_stack([deltas, d5]).astype(
        np.float32
    )


def build_drug_atlas(
    out: Path | str,
    *,
    model: str = "upstream:K562",
    catalog: pd.DataFrame | None = None,
    coverage_threshold: float = COVERAGE_THRESHOLD,
    gene_sets: pd.DataFrame | None = None,
    level3: Path | str | None = None,
    level5: Path | str | None | bool = None,
    name: str = "lincs-demo",
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
    data_dir: Path | None = None,
    progress: bool = False,
) -> Path:
    """Build the LINCS drug atlas into ``out`` (see the module docstring).

    Parameters
    ----------
    out
        Atlas directory (created; its tables are replaced).
    model
        Model name for :func:`ai4loop_core.model.load_model`.
    catalog
        Candidate GGIs with the ``ggis`` columns (e.g. ``atlas.catalog.build_catalog(...).ggis``);
        default :func:`candidate_ggis`. Either way only GGIs whose two anchors reach
        ``coverage_threshold`` are kept.
    coverage_threshold
        Minimum anchor coverage (share of gene-holding bins that hold a measured gene).
    gene_sets
        Cancer-gain GGI sets (``gene_set``, ``gene_id1``, ``gene_id2``); default the published
        per-cancer specific and pan-cancer gain sets.
    level3
        Level 3 GCT/GCTX file (default ``lincs/test_l1000.gct`` from the data registry).
    level5
        Level 5 (or 4) file (default ``lincs/ds.RData``); ``False`` to leave it out.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    from ai4loop_core.genes import load_annotation
    from ai4loop_core.model import load_model
    from ai4loop_core.predict import predict_scores
    from atlas.published import catalog_ggi_ids, published_gene_sets, write_atlas

    if not 0.0 <= coverage_threshold <= 1.0:
        raise BadInputError(
            f"coverage_threshold={coverage_threshold}: a share of bins, give a number in [0, 1]."
        )
    annotation = load_annotation(data_dir=data_dir)
    prof = _level3(*_resolve(level3, DEFAULT_LEVEL3, data_dir), annotation, data_dir)
    if level5 is not False:
        given = None if level5 is True else level5
        prof = _add_level5(prof, *_resolve(given, DEFAULT_LEVEL5, data_dir), annotation)

    candidates, catalog_name = _candidates(catalog, prof.genes, data_dir)
    anchors, left, right = _anchors(candidates)
    cov = lincs.anchor_coverage(anchors, prof.genes, annotation)["coverage"].to_numpy()
    candidates["coverage1"] = cov[left].astype(np.float32)
    candidates["coverage2"] = cov[right].astype(np.float32)
    pair_cov = np.minimum(cov[left], cov[right])
    ggis = candidates[pair_cov >= coverage_threshold]
    ggis = ggis.sort_values("ggi_id", kind="stable").reset_index(drop=True)
    if "catalog_ggi_id" not in ggis.columns:
        ggis["catalog_ggi_id"] = catalog_ggi_ids(ggis, annotation=annotation)
    if ggis.empty:
        raise BadInputError(
            f"no GGI has both anchors at coverage >= {coverage_threshold}; lower "
            "coverage_threshold (the manifest of a lower run lists the distribution)."
        )

    net = load_model(model, data_dir=data_dir)
    if net.input_scale != "tpm":
        raise BadInputError(
            f"model {model!r} expects {net.input_scale!r} input; the LINCS conversion gives a "
            "TPM-like scale. Use a TPM model (e.g. upstream:K562)."
        )
    anchors, left, right = _anchors(ggis)
    values = lincs.model_input(prof.log2, scale_constant=prof.scale_constant)
    scores = predict_scores(
        net, anchors=anchors, left=left, right=right, genes=prof.genes, values=values,
        progress=progress,
    )  # fmt: skip

    sig_meta, deltas = _signatures(prof, scores)
    if gene_sets is None:
        gene_sets = published_gene_sets(data_dir=data_dir)
        gene_sets = gene_sets[gene_sets["kind"].isin(["cancer_specific", "pan_cancer_gain"])]
    sets = _match_sets(gene_sets, ggis)
    ranking = drug_ranking(sig_meta, deltas, sets=sets, n_permutations=n_permutations, seed=seed)

    samples = prof.samples
    tables = {
        "samples": samples,
        "ggis": ggis,
        "scores": pd.DataFrame(
            {
                "sample_id": np.tile(samples["sample_id"].to_numpy(), len(ggis)),
                "ggi_id": np.repeat(ggis["ggi_id"].to_numpy(), len(samples)).astype(np.int32),
                "score": scores.astype(np.float16).ravel(),
            }
        ),
        "signatures": _long_signatures(sig_meta, deltas, ggis["ggi_id"].to_numpy()),
        "drug_ranking": ranking,
    }
    overlap = {name: int(len(m)) for name, m in sets.items()}
    sizes = gene_sets.groupby("gene_set", sort=False).size()
    manifest = {
        "name": name,
        "kind": "drug",
        "source": "built here",
        "synthetic": False,
        "model": {"name": model, "card": net.card},
        "catalog": {
            "name": catalog_name,
            "size": len(ggis),
            "candidates": len(candidates),
            "origins": {k: int(v) for k, v in ggis["origin"].value_counts().sort_index().items()},
            "sha256": _frame_sha256(ggis[GGI_COLUMNS]),
            "landmark_pairs": f"measured genes, midpoints {LANDMARK_RANGE[0]:,}-"
            f"{LANDMARK_RANGE[1]:,} bp apart, ggi_id from {LANDMARK_ID_BASE}",
        },
        "coverage_threshold": coverage_threshold,
        "coverage": {
            "definition": "per anchor: feature bins holding >= 1 measured gene / bins holding >= 1"
            " annotated gene; per GGI: the smaller of its two anchors",
            "ggi_quantiles_0_25_50_75_90_100": [
                round(float(q), 4) for q in np.quantile(pair_cov, [0, 0.25, 0.5, 0.75, 0.9, 1])
            ],
            "ggis_at_or_above": {f"{t:g}": int((pair_cov >= t).sum()) for t in COVERAGE_GRID},
        },
        "cohorts": prof.cohorts,
        "gene_sets": {
            k: {"published": int(sizes.get(k, 0)), "in_atlas": n} for k, n in overlap.items()
        },
        "small_gene_sets": sorted(k for k, v in overlap.items() if v < SMALL_SET),
        "caveats": _caveats(prof, ggis, candidates, overlap, coverage_threshold),
        "ranking": {
            "method": "weighted KS enrichment (GSEA running sum, weight |delta|) of the gene set "
            "in GGIs ranked by delta_score; negative = reverses the cancer-gain set",
            "n_permutations": n_permutations,
            "seed": seed,
            "q": "Benjamini-Hochberg within gene set x level x (per cell line | all)",
        },
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path((sys.argv or [""])[0]).name, *sys.argv[1:]]).strip(),
    }
    return write_atlas(out, tables=tables, manifest=manifest)


def _caveats(
    prof: _Profiles,
    ggis: pd.DataFrame,
    candidates: pd.DataFrame,
    overlap: dict[str, int],
    threshold: float,
) -> list[str]:
    """What a reader of this atlas must know, in sentences the dashboard can show as is."""
    small = [k for k, v in overlap.items() if v < SMALL_SET]
    out = [
        f"L1000 measures 978 landmark genes ({len(prof.genes)} mapped to the annotation); most "
        "anchor windows hold no measured gene. Only GGIs whose two anchors have coverage >= "
        f"{threshold:g} (share of gene-holding feature bins that hold a measured gene) are "
        f"kept: {len(ggis)} of {len(candidates)} candidates.",
        "Level 3 log2 intensities were converted to a TPM-like linear scale, 2**x * "
        f"{prof.scale_constant:.4g} (plate vehicle median matched to the ENCODE median TPM of "
        "the same genes). This is an approximation: the model was trained on RNA-seq TPM.",
        f"{len(small)} of {len(overlap)} cancer gene sets have fewer than {SMALL_SET} GGIs in "
        f"this atlas ({sum(v == 0 for v in overlap.values())} have none): their drug rankings "
        "rest on very few GGIs; see n_ggis_in_set.",
    ]
    if prof.level5 is not None:
        info = prof.cohorts[-1]
        out.append(
            f"Level {info['level']} signatures were scored on pseudo-expression: z-scores "
            "inverted on the Level 3 plate population of the same cell line (median + z * 1.4826"
            " * MAD), not on the signature's own plate; "
            f"{info['signatures_skipped']} signatures of cell lines without such a plate were "
            "not scored."
        )
    return out


def _long_signatures(meta: pd.DataFrame, deltas: np.ndarray, ggi_ids: np.ndarray) -> pd.DataFrame:
    n_sig, n_ggi = len(meta), len(ggi_ids)
    rep = meta.loc[np.repeat(np.arange(n_sig), n_ggi)].reset_index(drop=True)
    return pd.DataFrame(
        {
            "signature_id": rep["signature_id"].astype("str"),
            "pert_iname": rep["pert_iname"].astype("str"),
            "pert_dose": rep["pert_dose"].astype(np.float64),
            "pert_time": rep["pert_time"].astype(np.float64),
            "cell_id": rep["cell_id"].astype("str"),
            "plate": rep["plate"].astype("str"),
            "ggi_id": np.tile(ggi_ids, n_sig).astype(np.int32),
            "delta_score": deltas.T.ravel().astype(np.float32),
            "n_treated": rep["n_treated"].astype(np.int32),
            "n_vehicle": rep["n_vehicle"].astype(np.int32),
            "level": rep["level"].astype(np.int8),
            "pert_dose_unit": rep["pert_dose_unit"].astype("str"),
            "pert_type": rep["pert_type"].astype("str"),
        }
    )


def _frame_sha256(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
