"""Atlas tables (docs/atlas-schema.md): score encoding, shard files, summaries, Parquet writing.

Scores are stored as ``uint16``: ``score = stored / 65535`` (:data:`SCORE_SCALE`; step 1.5e-5).
The rounding keeps the call threshold exact: ``score >= 0.5`` if and only if
``stored >= 32768`` (:data:`CALL_THRESHOLD_Q`).

Every Parquet file is written whole to a temporary name and renamed into place
(:func:`write_parquet`), with fixed writer options, so the same content gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

from ai4loop_core.atomic import atomic_path

__all__ = [
    "CALL_THRESHOLD",
    "SCORE_SCALE",
    "dequantise",
    "differential",
    "group_summary",
    "quantise",
    "read_shard",
    "sample_burden",
    "write_parquet",
    "write_shard",
]

SCORE_SCALE = 65535
CALL_THRESHOLD = 0.5
CALL_THRESHOLD_Q = 32768
SHARD_GGI_ROWS = 1024  # GGIs per row group of a score shard
META_KEY = b"ai4loop.shard"
_WRITE = {"compression": "zstd", "compression_level": 6, "write_statistics": True}


def quantise(scores: np.ndarray) -> np.ndarray:
    """Probabilities -> uint16 (``round(score * 65535)``)."""
    return np.rint(np.clip(scores, 0.0, 1.0) * SCORE_SCALE).astype(np.uint16)


def dequantise(stored: np.ndarray) -> np.ndarray:
    """uint16 -> float32 probabilities."""
    return stored.astype(np.float32) / np.float32(SCORE_SCALE)


def write_parquet(table: pa.Table | pd.DataFrame, path: Path, *, row_group_size=None) -> None:
    """Write one Parquet file atomically (temporary file + rename), deterministic options."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
        table = table.replace_schema_metadata(None)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=row_group_size, **_WRITE)


# ---------------------------------------------------------------------------------------------
# Score shards


def write_shard(
    path: Path, *, sample_ids: list[str], ggi_ids: np.ndarray, stored: np.ndarray, key: dict
) -> None:
    """One score shard: ``stored`` is (n_ggis, n_samples) uint16, rows in ``ggi_ids`` order.

    Long layout sorted by (ggi_id, sample order); row groups of :data:`SHARD_GGI_ROWS` GGIs, so a
    reader of one GGI touches one row group, and a reader of one sample touches one file (shards
    hold disjoint, sorted ranges of sample ids). ``sample_id`` and ``ggi_id`` are dictionary/RLE
    encoded, ``score`` byte-stream-split + zstd (about 2.2 bytes per stored score in all).
    ``key`` (hashes of model, catalog, cohorts, samples) goes into the file metadata: a rerun
    keeps the shard only if it matches.
    """
    n_ggi, n_s = stored.shape
    sample = pa.DictionaryArray.from_arrays(
        pa.array(np.tile(np.arange(n_s, dtype=np.int32), n_ggi)), pa.array(sample_ids, pa.string())
    )
    table = pa.table(
        {
            "sample_id": sample,
            "ggi_id": pa.array(np.repeat(np.asarray(ggi_ids, np.int32), n_s)),
            "score": pa.array(np.ascontiguousarray(stored).ravel()),
        }
    )
    table = table.replace_schema_metadata({META_KEY: json.dumps(key, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(
            table, tmp, row_group_size=SHARD_GGI_ROWS * max(n_s, 1),
            sorting_columns=[pq.SortingColumn(1)], use_dictionary=["sample_id", "ggi_id"],
            column_encoding={"score": "BYTE_STREAM_SPLIT"}, **_WRITE,
        )  # fmt: skip


def shard_key(path: Path) -> dict | None:
    """The key a shard was written with (None if the file is absent or unreadable)."""
    try:
        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta[META_KEY])
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None


def read_shard(path: Path, ggi_ids: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(sample ids, stored scores (n_ggis, n_samples) in ``ggi_ids`` order) of one shard."""
    table = pq.read_table(path)
    sample = table.column("sample_id").combine_chunks()
    names = [str(s) for s in sample.dictionary.to_pylist()]
    n_s = len(names)
    stored = table.column("score").to_numpy().reshape(-1, n_s)
    order = table.column("ggi_id").to_numpy()[::n_s]
    if not np.array_equal(order, ggi_ids):
        raise ValueError(f"{path}: GGIs differ from the catalog's")
    return names, stored


# ---------------------------------------------------------------------------------------------
# Summaries


def group_summary(
    scores: np.ndarray, ggi_ids: np.ndarray, groups: np.ndarray, *, source: str = "built here"
) -> pd.DataFrame:
    """Group x GGI: ``n``, ``mean``, ``median``, ``fraction`` (score >= 0.5) from stored scores.

    ``scores`` is (n_ggis, n_samples) uint16; ``groups`` one label per sample.
    """
    frames = []
    groups = np.asarray(groups, dtype=object)
    for group in sorted(pd.unique(groups)):
        cols = np.flatnonzero(groups == group)
        block = scores[:, cols]
        values = dequantise(block)
        frames.append(
            pd.DataFrame(
                {
                    "group": group,
                    "ggi_id": ggi_ids.astype(np.int32),
                    "n": np.full(len(ggi_ids), len(cols), dtype=np.int32),
                    "mean": values.mean(axis=1, dtype=np.float64).astype(np.float32),
                    "median": np.median(values, axis=1).astype(np.float32),
                    "fraction": (block >= CALL_THRESHOLD_Q).mean(axis=1).astype(np.float32),
                    "source": source,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["group"] = out["group"].astype("string")
    out["source"] = out["source"].astype("string")
    return out


def _references(samples: pd.DataFrame) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(tumour group, reference name, tumour columns, reference columns) for each tumour group."""
    tissue = samples["tissue_type"].to_numpy()
    group = samples["group"].to_numpy()
    normals = np.flatnonzero(tissue == "normal")
    out = []
    for g in sorted(pd.unique(group[tissue == "tumour"])):
        cols = np.flatnonzero((group == g) & (tissue == "tumour"))
        matched = np.flatnonzero((group == f"{g} normal") & (tissue == "normal"))
        if len(matched) >= 2:
            out.append((g, f"{g} normal", cols, matched))
        elif len(normals) >= 2:
            out.append((g, "pooled normals", cols, normals))
    return out


def differential(scores: np.ndarray, ggi_ids: np.ndarray, samples: pd.DataFrame) -> pd.DataFrame:
    """Each tumour group vs its matched normals (group ``"<G> normal"``, >= 2 samples), else vs
    all normal samples pooled: fractions, means, their differences, Mann-Whitney p, BH q."""
    frames = []
    for g, ref, cols, rcols in _references(samples):
        a, b = dequantise(scores[:, cols]), dequantise(scores[:, rcols])
        with np.errstate(invalid="ignore", divide="ignore"):
            p = stats.mannwhitneyu(a, b, axis=1, alternative="two-sided", method="asymptotic")[1]
        p = np.where(np.isfinite(p), p, 1.0)
        fa = (scores[:, cols] >= CALL_THRESHOLD_Q).mean(axis=1)
        fb = (scores[:, rcols] >= CALL_THRESHOLD_Q).mean(axis=1)
        ma, mb = a.mean(axis=1, dtype=np.float64), b.mean(axis=1, dtype=np.float64)
        frames.append(
            pd.DataFrame(
                {
                    "group": g,
                    "reference": ref,
                    "ggi_id": ggi_ids.astype(np.int32),
                    "fraction_group": fa.astype(np.float32),
                    "fraction_reference": fb.astype(np.float32),
                    "delta_fraction": (fa - fb).astype(np.float32),
                    "mean_group": ma.astype(np.float32),
                    "mean_reference": mb.astype(np.float32),
                    "delta_mean": (ma - mb).astype(np.float32),
                    "p": p.astype(np.float64),
                    "q": stats.false_discovery_control(p, method="bh").astype(np.float64),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {
                "group": pd.Series(dtype="string"), "reference": pd.Series(dtype="string"),
                "ggi_id": pd.Series(dtype=np.int32),
                **{c: pd.Series(dtype=np.float32) for c in (
                    "fraction_group", "fraction_reference", "delta_fraction", "mean_group",
                    "mean_reference", "delta_mean")},
                "p": pd.Series(dtype=np.float64), "q": pd.Series(dtype=np.float64),
            }
        )  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    out["group"] = out["group"].astype("string")
    out["reference"] = out["reference"].astype("string")
    return out


def _gene_rows(genes: pd.DataFrame) -> pd.Series:
    """Row of each gene id in an expression matrix (the first row where an id repeats)."""
    return pd.Series(np.arange(len(genes)), index=genes["gene_id"]).groupby(level=0).first()


def anchor_gene_expression(
    genes: pd.DataFrame, values: np.ndarray, ggis: pd.DataFrame, *, sample_ids: np.ndarray
) -> pd.DataFrame:
    """Long ``expression`` table: TPM of every anchor gene of ``ggis`` in each sample.

    Rows are sample-major, genes in sorted order; genes absent from the cohort are left out.
    """
    anchor_genes = np.sort(pd.unique(pd.concat([ggis["gene_id1"], ggis["gene_id2"]])))
    row = _gene_rows(genes).reindex(anchor_genes)
    present = row.notna().to_numpy()
    kept, rows = anchor_genes[present], row.to_numpy()[present].astype(np.int64)
    tpm = values[rows].T.astype(np.float32)  # samples x kept genes
    return pd.DataFrame(
        {
            "sample_id": pd.array(np.repeat(np.asarray(sample_ids), len(kept)), dtype="string"),
            "gene_id": pd.array(np.tile(kept, len(sample_ids)), dtype="string"),
            "tpm": tpm.ravel(),
        }
    )


def anchor_expression(genes: pd.DataFrame, values: np.ndarray, ggis: pd.DataFrame) -> np.ndarray:
    """Mean expression of each GGI's two anchor genes per sample (NaN where a gene is absent)."""
    row = _gene_rows(genes)
    i1 = row.reindex(ggis["gene_id1"]).to_numpy(np.float64)
    i2 = row.reindex(ggis["gene_id2"]).to_numpy(np.float64)
    ok = np.isfinite(i1) & np.isfinite(i2)
    out = np.full((len(ggis), values.shape[1]), np.nan, dtype=np.float64)
    a, b = i1[ok].astype(np.int64), i2[ok].astype(np.int64)
    out[ok] = (values[a] + values[b]) / 2.0
    return out


def sample_burden(
    scores: np.ndarray, samples: pd.DataFrame, expression: np.ndarray
) -> pd.DataFrame:
    """Per sample: GGIs >= 0.5, mean score, Spearman of score vs mean anchor-gene expression.

    ``expression`` is (n_ggis, n_samples) from :func:`anchor_expression`.
    """
    n = (scores >= CALL_THRESHOLD_Q).sum(axis=0)
    values = dequantise(scores)
    mean = values.mean(axis=0, dtype=np.float64)
    rho = np.full(scores.shape[1], np.nan)
    for s in range(scores.shape[1]):
        ok = np.isfinite(expression[:, s])
        x, y = values[ok, s], expression[ok, s]
        if ok.sum() >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
            rx = stats.rankdata(x)
            ry = stats.rankdata(y)
            rho[s] = np.corrcoef(rx, ry)[0, 1]
    return pd.DataFrame(
        {
            "sample_id": samples["sample_id"].astype("string").to_numpy(),
            "group": samples["group"].astype("string").to_numpy(),
            "n_ggi": n.astype(np.int32),
            "mean_score": mean.astype(np.float32),
            "expression_correlation": rho.astype(np.float32),
        }
    )
