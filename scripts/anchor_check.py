"""Why gene-matched negatives are hard: which gene sites are loop anchors, and can RNA tell?

In the sets ``preprocess`` builds with ``--negative-regions genes`` (HMEC, HUVEC, NHEK,
IMR90-rebuilt, <CELL>-genes) both anchors of every pair, positive or negative, hold a gene start on
the Hi-C bin grid, and few negatives join two loop anchors. So a model must tell which gene sites
are loop anchors. This script measures, on the test chromosomes (chr4, 7, 8, 11) of each set:

- ``oracle``: test AUPRC of the rule "both anchors are loop anchors of this cell line" read from
  the cell line's own Hi-C loop list (not a model: it reads Hi-C; what knowing the anchors alone
  gives, not a bound on a pair model, which also sees what lies around and between them);
- ``anchor model``: how well RNA + gene coordinates tell loop anchors apart. Boosted trees on each
  5 kb gene-site bin's inputs (the AI4Loop bins code, the 46 context numbers and the gene-presence
  code of :mod:`ai4loop_core.context`), trained on the bins of the other chromosomes, AUROC and
  average precision on the test chromosomes' bins;
- ``anchor rule``: test AUPRC of the product of the two anchors' predicted anchor probabilities.

Usage (about 2 min on 2 cores; the numbers are in ``benchmarks/gene-negatives/ANCHOR_CHECK.md``)::

    python scripts/anchor_check.py [--out benchmarks/gene-negatives]

Writes ``anchor_check.json`` and ``ANCHOR_CHECK.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

from ai4loop_core.atomic import atomic_path
from ai4loop_core.boosted import anchor_codes, tree_params
from ai4loop_core.context import build_context
from ai4loop_core.data import ensure_file
from ai4loop_core.datasets import (
    ALL_RNASEQ,
    LOCAL_SETS,
    TEST_CHROMOSOMES,
    cell_line_of,
    negative_design,
)
from ai4loop_core.expression import read_expression
from ai4loop_core.features import build_operator
from ai4loop_core.pairs import read_pairs
from preprocess import BENCHMARK_SETS, read_loops
from preprocess._loops import bedtools_session, intersect_ids

GENE_STARTS = "ai4loop-upstream/data/genecode.v36Gene.map2.bed"
BIN = 5_000
SETS = ("K562-genes", "GM12878-genes", "HeLaS3-genes", "IMR90-rebuilt", "HMEC", "HUVEC", "NHEK")


def gene_site_bins() -> pd.DataFrame:
    """Every 5 kb bin holding a gene start (the sites gene-matched negatives are drawn from)."""
    pts = pd.read_csv(ensure_file(GENE_STARTS), sep="\t", header=None, usecols=[0, 1])
    pts.columns = ["chrom", "pos"]
    pts = pts[pts.chrom.isin([f"chr{i}" for i in [*range(1, 23), "X"]])]
    bins = pts.assign(start=pts.pos // BIN * BIN).drop_duplicates(["chrom", "start"])
    return bins.assign(end=bins.start + BIN)[["chrom", "start", "end"]].reset_index(drop=True)


def anchor_inputs(anchors: pd.DataFrame, genes: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """Per anchor: bins code (88), context numbers (46), gene-presence code (88)."""
    idx = np.arange(len(anchors))
    op = build_operator(anchors, genes)
    ctx = build_context(anchors, genes, left=idx, right=idx, operator=op)
    code = anchor_codes(op.apply(values)[:, :, 0])
    return np.hstack([code, ctx.anchor_context(values)[:, :, 0], ctx.presence])


def is_loop_anchor(anchors: pd.DataFrame, loops: pd.DataFrame) -> np.ndarray:
    """Whether each anchor overlaps either end of any loop (bedtools, as ``preprocess`` does)."""
    cols = ["chrom", "start", "end"]
    ends = pd.concat(
        [loops[[f"{c}{i}" for c in cols]].set_axis(cols, axis=1) for i in (1, 2)],
        ignore_index=True,
    )
    with bedtools_session():
        hits = intersect_ids(
            anchors[cols].assign(id=np.arange(len(anchors))),
            ends.assign(id=np.arange(len(ends))),
        )
    hit = np.zeros(len(anchors), bool)
    hit[hits["a"].to_numpy()] = True
    return hit


def measure(name: str, bins: pd.DataFrame, expr) -> dict:
    """The three numbers of the module docstring for one pair set."""
    cell = cell_line_of(name)
    loops = read_loops(ensure_file(BENCHMARK_SETS[cell][0]))  # the loops the set was built from
    values = expr.values[:, [list(expr.samples).index(cell)]]
    x_bins, y_bins = anchor_inputs(bins, expr.genes, values), is_loop_anchor(bins, loops)
    test_bins = bins.chrom.isin(TEST_CHROMOSOMES).to_numpy()
    clf = HistGradientBoostingClassifier(**tree_params(seed=0, max_iter=150))
    clf.fit(x_bins[~test_bins], y_bins[~test_bins])
    p_bins = clf.predict_proba(x_bins[test_bins])[:, 1]

    pairs = read_pairs(LOCAL_SETS / f"{name.removesuffix('-rebuilt')}_pairs.csv")
    anchors, left, right = pairs.unique_anchors()
    labels = pd.to_numeric(pairs.table["label"]).to_numpy()
    test = pairs.anchors["chrom1"].isin(TEST_CHROMOSOMES).to_numpy()
    on_loop = is_loop_anchor(anchors, loops)
    p_anchor = clf.predict_proba(anchor_inputs(anchors, expr.genes, values))[:, 1]
    both = (on_loop[left] & on_loop[right]).astype(float)
    return {
        "design": negative_design(name),
        "test_pairs": int(test.sum()),
        "test_positive_share": float(labels[test].mean()),
        "negatives_joining_two_loop_anchors": float(both[labels == 0].mean()),
        "positives_joining_two_loop_anchors": float(both[labels == 1].mean()),
        "oracle_auprc": float(average_precision_score(labels[test], both[test])),
        "gene_site_bins_that_are_loop_anchors": float(y_bins.mean()),
        "anchor_model_auroc": float(roc_auc_score(y_bins[test_bins], p_bins)),
        "anchor_model_ap": float(average_precision_score(y_bins[test_bins], p_bins)),
        "anchor_model_ap_chance": float(y_bins[test_bins].mean()),
        "anchor_rule_auprc": float(
            average_precision_score(labels[test], (p_anchor[left] * p_anchor[right])[test])
        ),
    }


def render(results: dict[str, dict], seconds: float) -> str:
    lines = [
        "# Loop-anchor check on gene-matched negatives",
        "",
        f"Written by `python scripts/anchor_check.py` ({seconds:.0f} s); see its docstring. "
        "Test chromosomes chr4, 7, 8, 11. *oracle*: AUPRC of 'both anchors are loop anchors "
        "of this cell line' (reads the Hi-C loops: not a model). *anchor model*: "
        "boosted trees telling loop-anchor gene sites from other gene sites with RNA + gene "
        "coordinates "
        "(AUROC, AP / chance AP). *anchor rule*: AUPRC of the product of the two predicted anchor "
        "probabilities.",
        "",
        "| set | negatives | test pairs | positives / negatives joining two loop anchors | oracle "
        "AUPRC | anchor model AUROC | anchor model AP / chance | anchor rule AUPRC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['design']} | {r['test_pairs']} | "
            f"{r['positives_joining_two_loop_anchors']:.2f} / "
            f"{r['negatives_joining_two_loop_anchors']:.3f} | {r['oracle_auprc']:.3f} | "
            f"{r['anchor_model_auroc']:.3f} | {r['anchor_model_ap']:.3f} / "
            f"{r['anchor_model_ap_chance']:.3f} | {r['anchor_rule_auprc']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/gene-negatives"))
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()
    t0 = time.time()
    names = [s for s in args.sets.split(",") if s]
    cells = sorted({cell_line_of(n) for n in names})
    expr = read_expression(ensure_file(ALL_RNASEQ), samples=cells)
    bins = gene_site_bins()
    results = {}
    for name in names:
        results[name] = measure(name, bins, expr)
        print(f"[{time.time() - t0:4.0f}s] {name}: {results[name]}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "anchor_check.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    with atomic_path(args.out / "ANCHOR_CHECK.md") as tmp:
        tmp.write_text(render(results, time.time() - t0))


if __name__ == "__main__":
    main()
