"""Score anchor pairs for many samples: encode each distinct (anchor, sample) once.

The AI4Loop encoder is shared by both anchors, so a pair's score is
``head(code(left), code(right))`` with ``code`` depending only on the anchor's feature vector.
We therefore featurise every distinct anchor with one sparse operator, encode each distinct
feature vector once (identical vectors, e.g. empty windows, collapse), and score all pairs with
the small dense head. The result equals running the full network on every pair (checked against
the published AI4Loop outputs). Models that also read each pair's expression context
(:mod:`ai4loop_core.context`, ``best:<CELL>``) get it from one more sparse operator per pair set.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ai4loop_core.atomic import atomic_path
from ai4loop_core.context import ContextOperator, build_context
from ai4loop_core.errors import BadInputError
from ai4loop_core.features import FeatureOperator, build_operator
from ai4loop_core.pairs import pair_distance

PAIR_ROWS = 1 << 17  # pair x sample rows scored at once by context models (see score_pairs)

if TYPE_CHECKING:
    from ai4loop_core.model import AnchorModel


@dataclass
class PredictStats:
    """What a prediction run did: counts used by the benchmark and shown to users."""

    n_pairs: int = 0
    n_samples: int = 0
    n_anchors: int = 0
    anchor_encodings: int = 0
    pair_scores: int = 0


def encode_features(model: AnchorModel, features: np.ndarray, *, dedupe: bool = True) -> np.ndarray:
    """Encode feature vectors ``(n, n_features)`` into codes ``(n, code_size)``.

    With ``dedupe`` identical vectors (e.g. empty windows) are encoded once.
    """
    x = np.ascontiguousarray(features, dtype=np.float32)
    if dedupe and len(x):
        rows = x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        return model.encode(x[first])[inverse.ravel()]
    return model.encode(x)


def context_operator(
    model: AnchorModel,
    *,
    anchors: pd.DataFrame,
    left: np.ndarray,
    right: np.ndarray,
    genes: pd.DataFrame,
    operator: FeatureOperator | None = None,
) -> ContextOperator | None:
    """The pairs' :class:`ContextOperator` when ``model`` reads context, else ``None``
    (``operator``: the bins operator of the same anchors and genes, if built)."""
    if not getattr(model, "uses_context", False):
        return None
    return build_context(anchors, genes, left=left, right=right, operator=operator)


def flat_context(context: np.ndarray) -> np.ndarray:
    """Context ``(n_pairs, width, n_samples)`` as rows ``(n_samples * n_pairs, width)``,
    sample-major: the row order of the flattened codes that ``model.score`` receives."""
    n_pairs, width, n_samples = context.shape
    return context.transpose(2, 0, 1).reshape(n_samples * n_pairs, width)


def predict_scores(
    model: AnchorModel,
    *,
    anchors: pd.DataFrame,
    left: np.ndarray,
    right: np.ndarray,
    genes: pd.DataFrame,
    values: np.ndarray,
    chunk_samples: int = 32,
    operator: FeatureOperator | None = None,
    context: ContextOperator | None = None,
    progress: bool = True,
    stats: PredictStats | None = None,
) -> np.ndarray:
    """Scores ``(n_pairs, n_samples)`` for pairs given as indices into ``anchors``.

    Parameters
    ----------
    anchors
        Distinct anchors (``chrom``, ``start``, ``end``).
    left, right
        For each pair, the row of its left and right anchor in ``anchors``.
    genes, values
        Expression: gene coordinates and the genes x samples matrix (the model's input scale).
    chunk_samples
        Samples featurised and encoded together (bounds memory: anchors x 155 x chunk floats).
    operator, context
        Prebuilt operators for these anchors and genes (callers scoring sample blocks build them
        once); models that read each pair's expression context (``model.uses_context``) get it
        from ``context``, built here when not given.
    """
    op = operator or build_operator(anchors, genes)
    context_op = context or context_operator(
        model, anchors=anchors, left=left, right=right, genes=genes, operator=op
    )
    distance = pair_distance(anchors, left, right)
    n_samples = values.shape[1]
    out = np.empty((len(left), n_samples), dtype=np.float32)
    bar = tqdm(
        total=n_samples, unit="sample", disable=not progress, file=sys.stderr, desc="predict"
    )
    for cols, feats in op.iter_apply(values, chunk_samples=chunk_samples):
        n_chunk = feats.shape[2]
        flat = feats.transpose(2, 0, 1).reshape(n_chunk * op.n_anchors, op.n_features)
        codes = encode_features(model, flat).reshape(n_chunk, op.n_anchors, -1)
        out[:, cols] = score_pairs(
            model, codes, left=left, right=right, distance=distance, context=context_op,
            values=values[:, cols],
        )  # fmt: skip
        if stats is not None:
            stats.anchor_encodings += n_chunk * op.n_anchors
            stats.pair_scores += n_chunk * len(left)
        bar.update(n_chunk)
    bar.close()
    if stats is not None:
        stats.n_pairs, stats.n_samples, stats.n_anchors = len(left), n_samples, op.n_anchors
    return out


def score_pairs(
    model: AnchorModel,
    codes: np.ndarray,
    *,
    left: np.ndarray,
    right: np.ndarray,
    distance: np.ndarray,
    context: ContextOperator | None = None,
    values: np.ndarray | None = None,
) -> np.ndarray:
    """Scores ``(n_pairs, n_samples)`` from anchor codes ``(n_samples, n_anchors, code_size)``.

    Pairs are scored in batches of pair x sample rows, so memory stays bounded for any catalog:
    :data:`PAIR_ROWS` rows at a time for context models (each row holds about 450 float64 pair
    features), eight times as many for the others. ``values`` (genes x the same samples) feed the
    ``context`` operator.
    """
    n_s = codes.shape[0]
    anchor_context = None if context is None else context.anchor_context(values)
    out = np.empty((len(left), n_s), dtype=np.float32)
    rows = PAIR_ROWS if context is not None else 8 * PAIR_ROWS
    step = max(1, rows // max(n_s, 1))
    for lo in range(0, len(left), step):
        sl = slice(lo, lo + step)
        n_p = len(left[sl])
        code_l = codes[:, left[sl]].reshape(n_s * n_p, -1)
        code_r = codes[:, right[sl]].reshape(n_s * n_p, -1)
        dist = np.tile(distance[sl], n_s)
        pair_context = None
        if context is not None:
            pair_context = flat_context(context.apply(values, rows=sl, anchors=anchor_context))
        probs = model.score(code_l, code_r, distance=dist, context=pair_context)
        out[sl] = probs.reshape(n_s, n_p).T
    return out


def predict_naive(
    model: AnchorModel,
    *,
    anchors: pd.DataFrame,
    left: np.ndarray,
    right: np.ndarray,
    genes: pd.DataFrame,
    values: np.ndarray,
    batch_size: int = 1024,
) -> np.ndarray:
    """The per-pair way: full network on every (pair, sample). For benchmarks and checks only."""
    op = build_operator(anchors, genes)
    out = np.empty((len(left), values.shape[1]), dtype=np.float32)
    for s in range(values.shape[1]):
        feats = op.apply(values[:, s]).astype(np.float32)[:, :, 0]
        x = [feats[left][:, :, None], feats[right][:, :, None]]
        out[:, s] = model.network.predict(x, batch_size=batch_size, verbose=0).ravel()
    return out


def predict_file(
    *,
    model: str,
    pairs: Path | str,
    expression: Path | str,
    out: Path | str | None = None,
    columns: Path | str | None = None,
    samples: list[str] | None = None,
    input_scale: str = "auto",
    chunk_samples: int = 32,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """``ai4loop predict``: score every pair of a pair file for every sample of an expression file.

    Returns (and writes to ``out``, ``.csv`` or ``.parquet``, atomically) the pair table in input
    order with one score column per sample, named exactly as the sample. ``report`` receives the
    expression reader's summary (format, genes placed, scale, warnings such as L1000's landmark
    coverage), so the user sees what was read before the scores.
    """
    from ai4loop_core.expression import read_expression
    from ai4loop_core.pairs import read_pairs

    out = Path(out) if out is not None else None
    if out is not None and out.suffix not in {".csv", ".parquet"}:
        raise BadInputError(f"--out {out}: use a .csv or .parquet file name.")
    pair_set = read_pairs(pairs)
    expr = read_expression(expression, columns=columns, samples=samples, input_scale=input_scale)
    if report is not None:
        report(f"{expression}: {len(expr.samples)} samples; " + expr.report.summary())
    from ai4loop_core.model import load_model  # imports the Keras backend: after input checks

    net = load_model(model)
    if expr.scale != net.input_scale:
        raise BadInputError(
            f"{expression}: expression is on the {expr.scale!r} scale but model {model!r} expects "
            f"{net.input_scale!r}; convert it (e.g. --input-scale log2 converts log2(TPM+1))."
        )
    if report is not None:
        low = context_coverage_warning(net, n_genes=len(expr.genes), model=model)
        if low:
            report(f"warning: {low}")
    clash = sorted(set(expr.samples) & set(pair_set.table.columns))
    if clash:
        raise BadInputError(
            f"{expression}: sample names {clash} clash with pair columns; rename them."
        )
    anchors, left, right = pair_set.unique_anchors()
    scores = predict_scores(
        net, anchors=anchors, left=left, right=right, genes=expr.genes, values=expr.values,
        chunk_samples=chunk_samples, progress=progress,
    )  # fmt: skip
    table = pd.concat(
        [pair_set.table.reset_index(drop=True), pd.DataFrame(scores, columns=expr.samples)], axis=1
    )
    if out is not None:
        write_table(table, out)
    return table


def context_coverage_warning(net: AnchorModel, *, n_genes: int, model: str) -> str | None:
    """A warning when a context model gets far fewer genes than it was trained with.

    Context models count the genes around and between anchors; an expression file that places
    half the genes (protein-coding only, a targeted panel, L1000) shifts every count.
    """
    trained = int(getattr(net, "card", {}).get("context_genes", 0) or 0)
    if not getattr(net, "uses_context", False) or not trained or n_genes >= trained / 2:
        return None
    return (
        f"model {model!r} reads the genes around and between the anchors and was trained with "
        f"{trained} annotated genes; this file places {n_genes}, so its gene counts run low and "
        "scores drift. Give the whole transcriptome (all GENCODE genes), or use upstream:<CELL>."
    )


def write_table(table: pd.DataFrame, out: Path) -> None:
    """Write a result table as CSV or Parquet (by suffix), atomically."""
    with atomic_path(out) as tmp:
        if out.suffix == ".parquet":
            table.apply(_numeric_if_possible).to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False, float_format="%.8g")


def _numeric_if_possible(column: pd.Series) -> pd.Series:
    if column.dtype != object and not pd.api.types.is_string_dtype(column):
        return column
    try:
        return pd.to_numeric(column)
    except (ValueError, TypeError):
        return column
