"""Expression context of a pair: the genes around each anchor (up to 2 Mb) and between the two.

The AI4Loop bins see 60 kb around an anchor. Loops sit in gene-dense, transcribed neighbourhoods,
and the genes between two anchors say what the loop would enclose, so a pair's *context* adds,
from the same RNA-seq sample and gene coordinates (no Hi-C, no CTCF):

- per anchor (midpoint ``m``), for each half-width ``w`` of :data:`WINDOWS` (10 kb to 2 Mb): the
  number of genes overlapping ``[m - w, m + w)``, how many of them are expressed
  (TPM > :data:`EXPRESSED_TPM`), and the mean and the sum of their ``log1p(TPM)``; then the mean
  ``log1p(TPM)`` of the :data:`NEAREST` genes whose midpoints are nearest ``m`` and that of the
  nearest one; then, for each half-width of :data:`PROMOTER_WINDOWS` (2.5-25 kb), how many genes
  start transcription there (strand-aware: ``start`` on ``+``, ``end`` on ``-``) and how many end
  there, and the sum of each group's ``log1p(TPM)`` (46 numbers, :data:`ANCHOR_NAMES`). Loop
  anchors sit at active promoters more often than at gene ends; the AI4Loop gene file marks the
  lower coordinate, which is a gene's end on the minus strand. Genes of unknown strand
  (:func:`ai4loop_core.genes.gene_strands`) do not count here;
- per anchor, where genes lie within 30 kb: the boosted model's 88-number code
  (:func:`ai4loop_core.boosted.anchor_codes`) of the AI4Loop bins with every gene at 1 TPM, i.e.
  which 1-7 kb bins hold a gene at all (the TPM bins cannot tell "no gene" from "a silent gene");
- per pair: the element-wise min and max of its two anchors' numbers (so the order of the anchors
  does not matter), then for the genes lying wholly between the two midpoints (same chromosome)
  their number, how many are expressed and their mean ``log1p(TPM)``, then the min and max of the
  two gene-presence codes (271 numbers, :data:`PAIR_NAMES`).

Every number is a sparse linear map of ``log1p(TPM)`` or of the expressed-gene indicator, or a
constant of the annotation, so like :mod:`ai4loop_core.features` one :class:`ContextOperator` built
per pair set featurises a whole genes x samples matrix at once. The gene counts and the presence
codes come from the annotation alone: the benchmark's ``genes-only`` check measures what they give
without RNA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ai4loop_core.features import FeatureOperator, _ranges, build_operator
from ai4loop_core.genome import normalize_chrom

CONTEXT_VERSION = "expr-context-v3"  # v2: gene-presence codes; v3: promoters and gene ends
WINDOWS = (10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000)
EXPRESSED_TPM = 1.0
NEAREST = 5
_WINDOW_STATS = ("genes", "expressed", "mean_log1p", "sum_log1p")
PROMOTER_WINDOWS = (2_500, 10_000, 25_000)
_END_STATS = ("tss_genes", "tes_genes", "tss_sum_log1p", "tes_sum_log1p")
ANCHOR_NAMES = (
    [f"w{w // 1000}kb_{s}" for w in WINDOWS for s in _WINDOW_STATS]
    + [f"nearest{NEAREST}_mean_log1p", "nearest_log1p"]
    + [f"p{w / 1000:g}kb_{s}" for w in PROMOTER_WINDOWS for s in _END_STATS]
)
PRESENCE_SIZE = 88  # ai4loop_core.boosted.CODE_SIZE (checked in build_context)
PAIR_NAMES = (
    [f"min_{n}" for n in ANCHOR_NAMES]
    + [f"max_{n}" for n in ANCHOR_NAMES]
    + ["between_genes", "between_expressed", "between_mean_log1p"]
    + [f"{m}_presence_code{i}" for m in ("min", "max") for i in range(PRESENCE_SIZE)]
)
N_CONTEXT = len(PAIR_NAMES)
_CHUNK = 2_000  # anchors per candidate block: bounds the (anchor, gene) candidate arrays


@dataclass(frozen=True)
class ContextOperator:
    """Sparse maps from a genes x samples matrix to the context of each pair.

    ``windows`` ``(n_anchors * len(WINDOWS), n_genes)``: 1 where a gene overlaps an anchor's
    window; ``nearest`` ``(n_anchors * 2, n_genes)``: weights of the nearest-gene means;
    ``between`` ``(n_pairs, n_genes)``: 1 where a gene lies between a pair's midpoints;
    ``presence`` ``(n_anchors, 88)``: each anchor's gene-presence code; ``starts`` and ``ends``
    ``(n_anchors * len(PROMOTER_WINDOWS), n_genes)``: 1 where a gene's transcription start (end)
    lies within a promoter window of an anchor's midpoint.
    """

    windows: sp.csr_matrix
    nearest: sp.csr_matrix
    starts: sp.csr_matrix
    ends: sp.csr_matrix
    between: sp.csr_matrix
    presence: np.ndarray
    left: np.ndarray
    right: np.ndarray

    @property
    def n_anchors(self) -> int:
        """Number of distinct anchors."""
        return self.nearest.shape[0] // 2

    @property
    def n_pairs(self) -> int:
        """Number of pairs."""
        return len(self.left)

    def anchor_context(self, values: np.ndarray) -> np.ndarray:
        """Anchor numbers ``(n_anchors, 46, n_samples)`` of TPM ``values`` (genes x samples)."""
        logx, expressed = _inputs(values)
        n_w, n_a, n_p = len(WINDOWS), self.n_anchors, len(PROMOTER_WINDOWS)
        count = np.asarray(self.windows.sum(axis=1)).reshape(n_a, n_w, 1)
        total = (self.windows @ logx).reshape(n_a, n_w, -1)
        n_expr = (self.windows @ expressed).reshape(n_a, n_w, -1)
        mean = total / np.maximum(count, 1)
        count = np.broadcast_to(count, total.shape)
        per_window = np.stack([count, n_expr, mean, total], axis=2).reshape(n_a, 4 * n_w, -1)
        near = (self.nearest @ logx).reshape(n_a, 2, -1)
        n_start = np.asarray(self.starts.sum(axis=1)).reshape(n_a, n_p, 1)
        n_end = np.asarray(self.ends.sum(axis=1)).reshape(n_a, n_p, 1)
        start_sum = (self.starts @ logx).reshape(n_a, n_p, -1)
        end_sum = (self.ends @ logx).reshape(n_a, n_p, -1)
        shape = start_sum.shape
        promoters = np.stack(
            [np.broadcast_to(n_start, shape), np.broadcast_to(n_end, shape), start_sum, end_sum],
            axis=2,
        ).reshape(n_a, 4 * n_p, -1)
        return np.concatenate([per_window, near, promoters], axis=1)

    def apply(
        self, values: np.ndarray, *, rows: slice | np.ndarray | None = None, anchors=None
    ) -> np.ndarray:
        """Context ``(n_pairs, 271, n_samples)`` (float32) of the pairs ``rows`` (default all).

        ``anchors`` reuses an :meth:`anchor_context` result for the same ``values``.
        """
        values = _as_2d(values)
        a = self.anchor_context(values) if anchors is None else anchors
        rows = slice(None) if rows is None else rows
        left, right = self.left[rows], self.right[rows]
        a_l, a_r = a[left], a[right]
        logx, expressed = _inputs(values)
        between = self.between[rows]
        count = np.asarray(between.sum(axis=1)).reshape(-1, 1)
        n_expr = between @ expressed
        mean = (between @ logx) / np.maximum(count, 1)
        inner = np.stack([np.broadcast_to(count, mean.shape), n_expr, mean], axis=1)
        p_l, p_r = self.presence[left], self.presence[right]
        presence = np.concatenate([np.minimum(p_l, p_r), np.maximum(p_l, p_r)], axis=1)
        presence = np.broadcast_to(presence[:, :, None], (*presence.shape, values.shape[1]))
        out = np.concatenate([np.minimum(a_l, a_r), np.maximum(a_l, a_r), inner], axis=1)
        return np.concatenate([out.astype(np.float32), presence], axis=1)


def _as_2d(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[:, None] if values.ndim == 1 else values


def _inputs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = _as_2d(values)
    return np.log1p(np.maximum(values, 0.0)), (values > EXPRESSED_TPM).astype(np.float64)


def build_context(
    anchors: pd.DataFrame,
    genes: pd.DataFrame,
    *,
    left: np.ndarray,
    right: np.ndarray,
    operator: FeatureOperator | None = None,
    strands: np.ndarray | None = None,
) -> ContextOperator:
    """The :class:`ContextOperator` of pairs ``(left[i], right[i])`` of ``anchors`` over ``genes``.

    ``anchors`` and ``genes`` have ``chrom``, ``start``, ``end``; ``left``/``right`` index
    ``anchors``; the operator applies to matrices whose rows are the rows of ``genes``.
    ``operator``: the AI4Loop bins operator of the same anchors and genes, when the caller has
    built it already (the presence codes come from it). ``strands``: each gene's strand (1, -1,
    0 unknown); default :func:`ai4loop_core.genes.gene_strands` (a ``strand`` column, else the
    annotation by ``gene_id``).
    """
    from ai4loop_core.genes import gene_strands

    n_genes = len(genes)
    strand = gene_strands(genes) if strands is None else np.asarray(strands, np.int8)
    g_chrom = genes["chrom"].map(normalize_chrom).to_numpy()
    g_start = genes["start"].to_numpy(np.int64)
    g_end = genes["end"].to_numpy(np.int64)
    a_chrom = anchors["chrom"].map(normalize_chrom).to_numpy()
    mid = (anchors["start"].to_numpy(np.int64) + anchors["end"].to_numpy(np.int64)) // 2
    left, right = np.asarray(left, np.int64), np.asarray(right, np.int64)
    g_tss = np.where(strand < 0, g_end, g_start)
    g_tes = np.where(strand < 0, g_start, g_end)
    n_a, n_w, n_p = len(anchors), len(WINDOWS), len(PROMOTER_WINDOWS)
    w_rows, w_cols, n_rows, n_cols, n_vals, b_rows, b_cols = ([] for _ in range(7))
    s_rows, s_cols, e_rows, e_cols = ([] for _ in range(4))
    widest = WINDOWS[-1]
    genes_of = pd.Series(np.arange(n_genes)).groupby(g_chrom).indices if n_genes else {}
    for chrom, a_idx in pd.Series(np.arange(n_a)).groupby(a_chrom).indices.items():
        g_idx = genes_of.get(chrom)
        if g_idx is None or len(g_idx) == 0:
            continue
        g_idx = g_idx[np.argsort(g_start[g_idx], kind="stable")]
        starts, ends = g_start[g_idx], g_end[g_idx]
        longest = int((ends - starts).max())
        g_mid = (starts + ends) // 2
        by_mid = np.argsort(g_mid, kind="stable")
        for lo in range(0, len(a_idx), _CHUNK):
            a = a_idx[lo : lo + _CHUNK]
            m = mid[a]
            first = np.searchsorted(starts, m - widest - longest, side="left")
            last = np.searchsorted(starts, m + widest, side="left")
            counts = last - first
            cand_a = np.repeat(a, counts)
            cand_g = np.repeat(first, counts) + _ranges(counts)
            cm = np.repeat(m, counts)
            for k, w in enumerate(WINDOWS):
                hit = (starts[cand_g] < cm + w) & (ends[cand_g] > cm - w)
                w_rows.append(cand_a[hit] * n_w + k)
                w_cols.append(g_idx[cand_g[hit]])
            genes_c = g_idx[cand_g]
            stranded = strand[genes_c] != 0
            for k, w in enumerate(PROMOTER_WINDOWS):
                for site, rows_, cols_ in ((g_tss, s_rows, s_cols), (g_tes, e_rows, e_cols)):
                    hit = stranded & (np.abs(site[genes_c] - cm) <= w)
                    rows_.append(cand_a[hit] * n_p + k)
                    cols_.append(genes_c[hit])
            near = _nearest(g_mid[by_mid], m)
            for j, (ranks, weight) in enumerate(((near, 1.0 / near.shape[1]), (near[:, :1], 1.0))):
                n_rows.append(np.repeat(a * 2 + j, ranks.shape[1]))
                n_cols.append(g_idx[by_mid[ranks.ravel()]])
                n_vals.append(np.full(ranks.size, weight))
        p_idx = np.flatnonzero((a_chrom[left] == chrom) & (a_chrom[right] == chrom))
        if len(p_idx):
            m1 = np.minimum(mid[left[p_idx]], mid[right[p_idx]])
            m2 = np.maximum(mid[left[p_idx]], mid[right[p_idx]])
            first = np.searchsorted(starts, m1, side="right")
            last = np.maximum(np.searchsorted(starts, m2, side="left"), first)
            counts = last - first
            cand_p = np.repeat(p_idx, counts)
            cand_g = np.repeat(first, counts) + _ranges(counts)
            hit = ends[cand_g] < np.repeat(m2, counts)
            b_rows.append(cand_p[hit])
            b_cols.append(g_idx[cand_g[hit]])

    def csr(rows, cols, vals, shape) -> sp.csr_matrix:
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        v = np.concatenate(vals) if vals else np.ones(len(r))
        return sp.csr_matrix((v, (r, c)), shape=shape, dtype=np.float64)

    return ContextOperator(
        windows=csr(w_rows, w_cols, [], (n_a * n_w, n_genes)),
        nearest=csr(n_rows, n_cols, n_vals, (n_a * 2, n_genes)),
        starts=csr(s_rows, s_cols, [], (n_a * n_p, n_genes)),
        ends=csr(e_rows, e_cols, [], (n_a * n_p, n_genes)),
        between=csr(b_rows, b_cols, [], (len(left), n_genes)),
        presence=_presence_codes(operator or build_operator(anchors, genes)),
        left=left,
        right=right,
    )


def _presence_codes(operator: FeatureOperator) -> np.ndarray:
    """Each anchor's code of its AI4Loop bins with every gene at 1 TPM, float32 ``(n, 88)``."""
    from ai4loop_core.boosted import CODE_SIZE, anchor_codes  # boosted imports this module

    assert CODE_SIZE == PRESENCE_SIZE
    bins = operator.apply(np.ones(operator.matrix.shape[1]))[:, :, 0]
    return anchor_codes(bins).astype(np.float32)


def _nearest(sorted_mids: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Ranks (into ``sorted_mids``) of the :data:`NEAREST` values closest to each ``m``, nearest
    first (fewer columns when the chromosome has fewer genes)."""
    k = min(NEAREST, len(sorted_mids))
    pos = np.searchsorted(sorted_mids, m)
    cand = pos[:, None] + np.arange(-k, k)[None, :]
    valid = (cand >= 0) & (cand < len(sorted_mids))
    dist = np.where(
        valid,
        np.abs(sorted_mids[np.clip(cand, 0, len(sorted_mids) - 1)] - m[:, None]),
        np.iinfo(np.int64).max,
    )
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand, order, axis=1)
