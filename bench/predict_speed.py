"""Prediction speed, measured side by side in one run on one machine.

(a) Feature extraction for the upstream example (1000 pairs, 2 AML samples): our sparse operator
    vs a per-pair, per-bin pandas loop of the same spec (the upstream approach), per sample.
(b) End to end for >= 100 real samples (HPA nTPM of cell lines and tissues without gaps) over a
    catalog where anchors repeat (every pair of the 4 upstream benchmark sets: Hi-C-supported gene
    pairs and their matched negatives): anchor-factorised prediction vs naive per-pair
    ``model.predict`` (timed on a few samples, as a per-sample rate).

Usage: ``python bench/predict_speed.py [--samples N] [--naive-samples K] [--loop-anchors M]``.
The last line reads ``speedup_features=<x> speedup_predict=<y>``. Set ``KERAS_BACKEND`` to run on
torch or jax (e.g. on a GPU machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ai4loop_core.data import ensure_file  # noqa: E402
from ai4loop_core.datasets import UPSTREAM_SETS  # noqa: E402
from ai4loop_core.expression import read_expression  # noqa: E402
from ai4loop_core.features import BIN_SIZES, FLANK, build_operator  # noqa: E402
from ai4loop_core.model import load_model  # noqa: E402
from ai4loop_core.pairs import read_pairs  # noqa: E402
from ai4loop_core.predict import PredictStats, predict_naive, predict_scores  # noqa: E402

EXAMPLE = "ai4loop-upstream/prediction/"


def upstream_style_features(pairs: pd.DataFrame, genes: pd.DataFrame, sample: str) -> np.ndarray:
    """Per pair side, per bin: a pandas filter over the chromosome's genes, then a mean."""
    by_chrom = {c: g.sort_values("start") for c, g in genes.groupby("chrom", sort=False)}
    out = []
    for side in ("1", "2"):
        rows = []
        for chrom, s, e in pairs[[f"chrom{side}", f"start{side}", f"end{side}"]].itertuples(
            index=False
        ):
            sub = by_chrom.get(chrom)
            w0 = max(0, s + (e - s) // 2 - FLANK)
            row = []
            for b in BIN_SIZES:
                for k in range(2 * FLANK // b):
                    lo, hi = w0 + k * b, w0 + (k + 1) * b
                    hit = sub[(sub["start"] < hi) & (sub["end"] > lo)] if sub is not None else []
                    row.append(float(hit[sample].mean()) if len(hit) else 0.0)
            rows.append(row)
        out.append(np.array(rows))
    return np.stack(out)


def bench_features(loop_pairs: int) -> float:
    expr = read_expression(
        ensure_file(EXAMPLE + "Samples_RNASeqdata.bed"),
        columns=ensure_file(EXAMPLE + "Samples_RNASeqdata.bed.columns.txt"),
    )
    pairs = read_pairs(ensure_file(EXAMPLE + "Genepairs_1000.bedpe"))
    genes = expr.genes[["chrom", "start", "end"]].assign(AML1=expr.values[:, 0])

    t0 = time.perf_counter()
    sub = pairs.anchors.iloc[:loop_pairs]
    slow = upstream_style_features(sub, genes, "AML1")
    t_loop = (time.perf_counter() - t0) * len(pairs) / loop_pairs

    t0 = time.perf_counter()
    anchors, left, right = pairs.unique_anchors()
    op = build_operator(anchors, expr.genes)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    feats = op.apply(expr.values)
    t_apply = (time.perf_counter() - t0) / expr.values.shape[1]
    np.testing.assert_allclose(feats[left[:loop_pairs], :, 0], slow[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(feats[right[:loop_pairs], :, 0], slow[1], rtol=1e-9, atol=1e-12)

    per_sample = t_build + t_apply  # one sample on its own pays the whole build
    print(f"(a) features, upstream example, {len(pairs)} pairs, 1 sample")
    print(f"    per-bin pandas loop (timed on {loop_pairs} pairs, scaled): {t_loop:9.2f} s/sample")
    build_ms, apply_ms = t_build * 1e3, t_apply * 1e3
    print(f"    sparse operator: build {build_ms:.1f} ms once, apply {apply_ms:.2f} ms/sample")
    print(f"    speed-up for one sample (build + apply): {t_loop / per_sample:,.0f}x; "
          f"per extra sample: {t_loop / t_apply:,.0f}x")  # fmt: skip
    return t_loop / per_sample


def bench_predict(n_samples: int, naive_samples: int) -> float:
    path = ensure_file("hpa/RNAtableExtended.tsv.gz")
    complete = pd.read_csv(path, sep="\t", index_col=0).notna().all()  # some tissues have gaps
    expr = read_expression(path, samples=list(complete.index[complete])[:n_samples])
    values = expr.values
    frames = [read_pairs(ensure_file(path)).anchors for path in UPSTREAM_SETS.values()]
    catalog = pd.concat(frames, ignore_index=True)
    from ai4loop_core.pairs import Pairs

    pairs = Pairs(table=catalog, anchors=catalog, source="4 upstream sets", layout="pair-csv")
    anchors, left, right = pairs.unique_anchors()
    model = load_model("upstream:K562")

    stats = PredictStats()
    t0 = time.perf_counter()
    fast = predict_scores(
        model, anchors=anchors, left=left, right=right, genes=expr.genes, values=values,
        progress=False, stats=stats,
    )  # fmt: skip
    t_fast = time.perf_counter() - t0

    t0 = time.perf_counter()
    naive = predict_naive(
        model,
        anchors=anchors,
        left=left,
        right=right,
        genes=expr.genes,
        values=values[:, :naive_samples],
    )
    t_naive = (time.perf_counter() - t0) / naive_samples * values.shape[1]
    err = float(np.abs(fast[:, :naive_samples] - naive).max())

    n_scores = len(left) * values.shape[1]
    print(f"(b) end to end, {values.shape[1]} HPA samples x {len(left)} pairs "
          f"({len(anchors)} distinct anchors), model upstream:K562, backend "
          f"{os.environ.get('KERAS_BACKEND', 'tensorflow')}")  # fmt: skip
    print(f"    anchor-factorised: {t_fast:8.1f} s  {n_scores / t_fast:12,.0f} pair-scores/s  "
          f"{stats.anchor_encodings / t_fast:10,.0f} anchor encodings/s")  # fmt: skip
    print(f"    naive per pair (timed on {naive_samples} samples, scaled): {t_naive:8.1f} s  "
          f"{n_scores / t_naive:12,.0f} pair-scores/s")  # fmt: skip
    print(f"    max |fast - naive| on the timed samples: {err:.2e}")
    return t_naive / t_fast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=130)
    parser.add_argument("--naive-samples", type=int, default=2)
    parser.add_argument("--loop-pairs", type=int, default=100)
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"# {time.strftime('%Y-%m-%d')} {platform.node()} {machine} cores={os.cpu_count()}")
    sf = bench_features(args.loop_pairs)
    sp = bench_predict(args.samples, args.naive_samples)
    print(f"speedup_features={sf:.0f} speedup_predict={sp:.1f}")


if __name__ == "__main__":
    main()
