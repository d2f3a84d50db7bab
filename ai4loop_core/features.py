"""The AI4Loop feature transform: expression in multi-scale bins around an anchor.

Spec (from the published method). For an anchor ``[s, e)`` let ``mid = s + (e - s) // 2`` and
``w0 = max(0, mid - 30000)``. For each bin size ``b`` in 1000, 2000, ..., 7000 there are
``60000 // b`` bins (60+30+20+15+12+10+8 = 155); bin ``k`` is ``[w0 + k*b, w0 + (k+1)*b)``. The
feature is the mean expression of the genes on that chromosome whose interval overlaps the bin
(``gene.start < bin.end and gene.end > bin.start``), 0 when none. Order: bin size ascending, then
``k``. Values go into the published models raw (TPM scale, no log).

The transform is linear in expression, so it is one sparse operator ``W`` of shape
``(n_anchors * 155, n_genes)`` built once per anchor set; ``W @ X`` featurises a whole
genes x samples matrix at once. :func:`reference_features` is the slow per-bin loop kept as the
obviously-correct check (tests, benchmark).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ai4loop_core.genome import normalize_chrom

FEATURE_TRANSFORM_VERSION = "ai4loop-bins-v1"
FLANK = 30_000
BIN_SIZES = (1000, 2000, 3000, 4000, 5000, 6000, 7000)
_BLOCK = 100_000  # genes are indexed by the 100 kb blocks they touch; a window spans at most 2


def bin_layout(*, bin_sizes: tuple[int, ...] = BIN_SIZES, flank: int = FLANK) -> pd.DataFrame:
    """Offsets of every feature bin from the window start, in model order.

    Returns a frame with ``bin_size``, ``k``, ``offset_start`` and ``offset_end`` (155 rows for the
    published settings).
    """
    rows = [(b, k, k * b, (k + 1) * b) for b in bin_sizes for k in range((2 * flank) // b)]
    return pd.DataFrame(rows, columns=["bin_size", "k", "offset_start", "offset_end"])


N_FEATURES = len(bin_layout())


def window_starts(starts: np.ndarray, ends: np.ndarray, *, flank: int = FLANK) -> np.ndarray:
    """Start of the 2*flank window centred on each anchor's midpoint (clipped at 0)."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    mid = starts + (ends - starts) // 2
    return np.maximum(0, mid - flank)


@dataclass(frozen=True)
class FeatureOperator:
    """Sparse map from gene expression to anchor features.

    ``matrix`` has shape ``(n_anchors * n_features, n_genes)``; row ``a * n_features + f`` holds
    ``1/n`` for each of the ``n`` genes overlapping feature bin ``f`` of anchor ``a``.
    """

    matrix: sp.csr_matrix
    n_anchors: int
    n_features: int

    def apply(self, expression: np.ndarray) -> np.ndarray:
        """Features of every anchor for every sample: ``(n_anchors, n_features, n_samples)``."""
        expression = np.asarray(expression, dtype=np.float64)
        if expression.ndim == 1:
            expression = expression[:, None]
        out = self.matrix @ expression
        return np.asarray(out).reshape(self.n_anchors, self.n_features, expression.shape[1])

    def iter_apply(
        self, expression: np.ndarray, *, chunk_samples: int = 64
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """Stream :meth:`apply` over sample chunks, yielding ``(sample_slice, features)``."""
        n = expression.shape[1]
        for lo in range(0, n, chunk_samples):
            cols = slice(lo, min(n, lo + chunk_samples))
            yield cols, self.apply(expression[:, cols])


def build_operator(
    anchors: pd.DataFrame,
    genes: pd.DataFrame,
    *,
    bin_sizes: tuple[int, ...] = BIN_SIZES,
    flank: int = FLANK,
) -> FeatureOperator:
    """Build the sparse feature operator for ``anchors`` over the rows of ``genes``.

    Parameters
    ----------
    anchors
        Frame with ``chrom``, ``start``, ``end`` (one row per anchor, in output order).
    genes
        Frame with ``chrom``, ``start``, ``end``, one row per row of the expression matrix the
        operator will be applied to.
    """
    layout = bin_layout(bin_sizes=bin_sizes, flank=flank)
    n_feat = len(layout)
    off_lo = layout["offset_start"].to_numpy(np.int64)
    off_hi = layout["offset_end"].to_numpy(np.int64)
    n_anchors, n_genes = len(anchors), len(genes)

    a_chrom = anchors["chrom"].map(normalize_chrom).to_numpy()
    g_chrom = genes["chrom"].map(normalize_chrom).to_numpy()
    codes, uniques = pd.factorize(np.concatenate([a_chrom, g_chrom]))
    a_code, g_code = codes[:n_anchors].astype(np.int64), codes[n_anchors:].astype(np.int64)
    w0 = window_starts(anchors["start"].to_numpy(), anchors["end"].to_numpy(), flank=flank)
    g_start = genes["start"].to_numpy(np.int64)
    g_end = genes["end"].to_numpy(np.int64)

    # Index genes by every block they touch: key = chrom * n_blocks + block.
    span = int(max(g_end.max(initial=0), w0.max(initial=0) + 2 * flank)) // _BLOCK + 2
    first = g_start // _BLOCK
    last = np.maximum(g_end - 1, g_start) // _BLOCK
    n_blocks = last - first + 1
    gene_of_entry = np.repeat(np.arange(n_genes, dtype=np.int64), n_blocks)
    block_of_entry = np.repeat(first, n_blocks) + _ranges(n_blocks)
    keys = np.repeat(g_code, n_blocks) * span + block_of_entry
    order = np.argsort(keys, kind="stable")
    keys, gene_of_entry = keys[order], gene_of_entry[order]

    # Candidate (anchor, gene) pairs: genes in the blocks the window touches.
    b0 = w0 // _BLOCK
    b1 = (w0 + 2 * flank - 1) // _BLOCK
    q_anchor = np.concatenate([np.arange(n_anchors), np.flatnonzero(b1 > b0)])
    q_block = np.concatenate([b0, b1[b1 > b0]])
    q_key = a_code[q_anchor] * span + q_block
    lo = np.searchsorted(keys, q_key, side="left")
    hi = np.searchsorted(keys, q_key, side="right")
    counts = hi - lo
    pair_anchor = np.repeat(q_anchor, counts)
    pair_gene = gene_of_entry[np.repeat(lo, counts) + _ranges(counts)]
    pair_key = np.unique(pair_anchor * max(n_genes, 1) + pair_gene)
    pair_anchor, pair_gene = pair_key // max(n_genes, 1), pair_key % max(n_genes, 1)

    rows, cols = [], []
    step = max(1, 4_000_000 // n_feat)
    for s in range(0, len(pair_anchor), step):
        pa, pg = pair_anchor[s : s + step], pair_gene[s : s + step]
        bin_lo = w0[pa, None] + off_lo[None, :]
        bin_hi = w0[pa, None] + off_hi[None, :]
        hit = (g_start[pg, None] < bin_hi) & (g_end[pg, None] > bin_lo)
        i, f = np.nonzero(hit)
        rows.append(pa[i] * n_feat + f)
        cols.append(pg[i])
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    per_row = np.bincount(rows, minlength=n_anchors * n_feat)
    values = 1.0 / per_row[rows]
    matrix = sp.csr_matrix(
        (values, (rows, cols)), shape=(n_anchors * n_feat, n_genes), dtype=np.float64
    )
    del uniques
    return FeatureOperator(matrix=matrix, n_anchors=n_anchors, n_features=n_feat)


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(n)`` for each ``n`` in ``lengths``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - starts


def reference_features(
    anchors: pd.DataFrame,
    genes: pd.DataFrame,
    expression: np.ndarray,
    *,
    bin_sizes: tuple[int, ...] = BIN_SIZES,
    flank: int = FLANK,
) -> np.ndarray:
    """The same transform as a plain per-anchor, per-bin loop (the upstream approach).

    Slow by design: it exists to check :func:`build_operator` and to time the speed-up.
    Returns ``(n_anchors, n_features, n_samples)``.
    """
    expression = np.asarray(expression, dtype=np.float64)
    if expression.ndim == 1:
        expression = expression[:, None]
    g_chrom = genes["chrom"].map(normalize_chrom).to_numpy()
    g_start = genes["start"].to_numpy(np.int64)
    g_end = genes["end"].to_numpy(np.int64)
    by_chrom = {c: np.flatnonzero(g_chrom == c) for c in pd.unique(g_chrom)}
    n_feat = sum((2 * flank) // b for b in bin_sizes)
    out = np.zeros((len(anchors), n_feat, expression.shape[1]))
    for a, (chrom, s, e) in enumerate(anchors[["chrom", "start", "end"]].itertuples(index=False)):
        idx = by_chrom.get(normalize_chrom(chrom), np.zeros(0, dtype=np.int64))
        mid = int(s) + (int(e) - int(s)) // 2
        w0 = max(0, mid - flank)
        f = 0
        for b in bin_sizes:
            for k in range((2 * flank) // b):
                lo, hi = w0 + k * b, w0 + (k + 1) * b
                hit = idx[(g_start[idx] < hi) & (g_end[idx] > lo)]
                if len(hit):
                    out[a, f] = expression[hit].mean(axis=0)
                f += 1
    return out
