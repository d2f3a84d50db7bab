"""Models: our metrics beside the published ones, ROC/PR curves, the cross-cell matrix."""

import pandas as pd
import streamlit as st

from dashboard import charts, ui
from dashboard.query import (
    PUBLISHED_METRICS,
    benchmark_summary,
    evaluations,
    model_cards,
    read_curves,
)

st.title("Models")
where = ui.models_dirs()
where_text = ", ".join(str(p) for p in where)
cards = model_cards(where)
evals = evaluations(where)
published = PUBLISHED_METRICS.assign(who="AI4Loop (published, random split)", model="upstream")
ours = cards.dropna(subset=["auroc"])
ours = ours.assign(who="ours (" + ours["split"].fillna("?").astype(str) + " split)")
both = pd.concat(
    [published, ours[["cell_line", "auroc", "auprc", "who", "model"]]], ignore_index=True
)
if ours.empty:
    st.info(
        f"No model card with test metrics in {where_text} yet (train with `ai4loop train`); "
        "showing the published numbers."
    )
st.caption(
    "Published: AI4Loop paper, test set of a random split. Ours: the test set of the split named "
    "in each model card (a chromosome split is harder than a random one)."
)
c1, c2 = st.columns(2)
with c1:
    ui.chart(
        charts.metrics_bars,
        both,
        "auroc",
        key="mod_auroc",
        metric="auroc",
        title="AUROC per cell line",
    )
with c2:
    ui.chart(
        charts.metrics_bars,
        both,
        "auprc",
        key="mod_auprc",
        metric="auprc",
        title="AUPRC per cell line",
    )
ui.table(cards, "model-cards", key="mod_cards")

st.subheader("Benchmark: which model to use")
bench = benchmark_summary(ui.REPO_BENCHMARKS / "summary.csv")
if bench.empty:
    st.info("No benchmark yet: `ai4loop benchmark --out benchmarks` writes benchmarks/summary.csv.")
else:
    st.caption(
        "`ai4loop benchmark`: test chromosomes 4, 7, 8, 11 of each cell line, mean over seeds "
        "(benchmarks/RESULTS.md has the sd, cross-cell tables and honesty checks). `upstream` "
        "saw these pairs in training. HMEC, HUVEC and NHEK sets have gene-rich negatives and are "
        "harder than the four upstream sets. `best:<CELL>` is the kind chosen for that cell line "
        "on the validation chromosomes (the model cards' `source` column says which); "
        "`genes-only` reads the same features with every gene at 1 TPM: the gap between them is "
        "what RNA adds."
    )
    grid = bench.pivot_table(index="model", columns="cell_line", values="auprc_mean", sort=False)
    ui.chart(
        charts.matrix,
        grid,
        "benchmark-auprc",
        key="mod_bench",
        download=bench,
        title="Test AUPRC (mean over seeds); chance is 0.167",
        label="AUPRC",
        zmin=1 / 6,
        rows="model",
        columns="cell line",
    )

st.subheader("ROC and PR curves")
with_curves = evals[evals["curves"] != ""]
if with_curves.empty:
    st.info(f"No evaluation JSON with curves in {where_text} (`ai4loop evaluate --json`).")
else:
    names = [f"{r.model} on {r.dataset} ({r.split})" for r in with_curves.itertuples()]
    chosen = st.multiselect(
        "Evaluations", names, default=names[:6], key="mod_evals", bind="query-params"
    )
    paths = dict(zip(names, with_curves["curves"], strict=True))
    curves = {n: read_curves(paths[n]) for n in chosen}
    roc = pd.concat([c[0].assign(evaluation=n) for n, c in curves.items()] or [pd.DataFrame()])
    pr = pd.concat([c[1].assign(evaluation=n) for n, c in curves.items()] or [pd.DataFrame()])
    if curves:
        c1, c2 = st.columns(2)
        with c1:
            ui.chart(
                charts.curves,
                roc,
                "roc",
                key="mod_roc",
                x="fpr",
                y="tpr",
                title="ROC",
                diagonal=True,
            )
        with c2:
            ui.chart(
                charts.curves,
                pr,
                "pr",
                key="mod_pr",
                x="recall",
                y="precision",
                title="Precision-recall",
                diagonal=False,
            )

st.subheader("Cross-cell matrix")
if evals.empty:
    st.info("No evaluation JSONs yet: the matrix needs each model evaluated on each cell line.")
else:
    metric = st.radio(
        "Metric", ["auroc", "auprc"], horizontal=True, key="mod_metric", bind="query-params"
    )
    m = evals.pivot_table(index="trained_on", columns="dataset", values=metric, aggfunc="max")
    ui.chart(
        charts.matrix,
        m,
        "cross-cell",
        key="mod_matrix",
        download=m.reset_index(),
        title=f"{metric.upper()}: trained on (rows) × tested on (columns)",
        label=metric.upper(),
    )
    if evals["possible_leakage"].any():
        st.caption(
            "possible_leakage: the model may have seen these test pairs in training (e.g. a "
            "published model, trained on a random split, judged on its own cell line's "
            "chromosome split); read those cells as optimistic."
        )
    ui.table(evals.drop(columns=["curves"]), "evaluations", key="mod_evals_table")
