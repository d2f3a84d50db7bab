"""Upload & predict: score your samples, see where they sit among the atlas groups."""

import tempfile
from pathlib import Path

import streamlit as st

from ai4loop_core.model import available_models
from dashboard import charts, ui, upload

st.title("Upload & predict")
limit_mb = int(st.get_option("server.maxUploadSize"))
st.markdown(
    "Upload one expression file (genes × samples) and, optionally, its column-name file and a "
    "pair file. Readers: "
    + "; ".join(f"**{k}** ({v})" for k, v in upload.formats().items())
    + ". Pair files: AI4Loop BEDPE, standard BEDPE or the pair CSV. Without a pair file the "
    f"atlas catalog's GGIs are scored. Limit {limit_mb} MB per file."
)
ui.warm_up_models()
files = st.file_uploader("Files", accept_multiple_files=True, key="up_files")
if not files:
    st.info(
        "Example: the AI4Loop AML samples, `Samples_RNASeqdata.bed` with "
        "`Samples_RNASeqdata.bed.columns.txt` and `Genepairs_1000.bedpe`."
    )
    st.stop()
fingerprint = tuple((f.name, f.size, f.file_id) for f in files)
if st.session_state.get("up_fingerprint") != fingerprint:
    workdir = Path(tempfile.mkdtemp(prefix="ai4loop-upload-"))
    st.session_state["up_saved"] = upload.save_uploads(
        [(f.name, f.getvalue()) for f in files], workdir=workdir, max_bytes=limit_mb * 1_000_000
    )
    st.session_state["up_fingerprint"] = fingerprint
    st.session_state.pop("up_result", None)
saved = st.session_state["up_saved"]

scale = st.radio(
    "Input scale",
    ["auto", "tpm", "log2"],
    horizontal=True,
    key="up_scale",
    format_func={"auto": "detect", "tpm": "TPM", "log2": "log2(TPM+1), convert"}.get,
)
expression = upload.validate(saved, input_scale=scale)
st.subheader("Validation")
ui.table(upload.report_table(expression), "validation-report", key="up_report")

atlas = ui.pick_atlas(
    "up_atlas",
    needs=("ggis", "group_summary"),
    what="placing samples",
    label="Atlas (catalog and groups)",
)
models = available_models(models_dir=ui.REPO_MODELS)
model_name = st.selectbox(
    "Model",
    models,
    key="up_model",
    format_func=upload.model_label,
    index=models.index(atlas.model) if atlas.model in models else 0,
)
place = st.checkbox(
    "Place the samples among the atlas groups (also scores the catalog)", value=True, key="up_place"
)
st.caption("The model runs on the GPU when the server has one, else on the CPU.")
run_key = (fingerprint, scale, model_name, atlas.name, place)
if st.button("Run prediction", type="primary", key="up_run"):
    bar = st.progress(0.0, text="Loading the model")
    net = ui.model(model_name)
    catalog = ui.ask("catalog", atlas.name)
    result = upload.predict_upload(
        expression,
        model=net,
        pairs=saved.pairs,
        catalog=catalog,
        group_means=(lambda ids: ui.ask("group_means", atlas.name, ids)) if place else None,
        progress=lambda f, what: bar.progress(min(f, 1.0), text=what),
    )
    st.session_state["up_result"] = (run_key, result)
if st.session_state.get("up_result", (None,))[0] != run_key:
    st.info("Choose the model and press **Run prediction**.")
    st.stop()
result = st.session_state["up_result"][1]
for warning in result.warnings:
    st.warning(warning)

st.subheader("Results")
st.success(
    f"Scored {result.targets} in {len(expression.samples)} sample(s) with {model_name} "
    f"on {result.device}."
)
gene = st.text_input("Filter by gene (symbol or id contains)", key="up_filter")
shown = upload.filter_by_gene(result.table, gene)
ui.table(shown, "ai4loop-predictions", key="up_results", height=320, parquet=True)
if not shown.empty:
    sample = st.selectbox("Sample", expression.samples, key="up_sample")
    top = shown.sort_values(sample, ascending=False).iloc[0]
    lo, hi = int(min(top.start1, top.start2)) - 500_000, int(max(top.end1, top.end2)) + 500_000
    local = upload.pairs_in(result.table, top.chrom, start=lo, end=hi)
    ui.chart(
        charts.arcs,
        local,
        f"{sample}-arcs",
        key="up_arcs",
        genes=ui.ask("genes_in", top.chrom, lo, hi),
        start=lo,
        end=hi,
        value=sample,
        label="score",
        after=lambda fig: charts.highlight(fig, top),
        title=f"{sample}: pairs around {top.symbol1}–{top.symbol2}, by score",
    )
if result.placement is not None:
    st.subheader(f"Where the samples sit among the groups of {atlas.name}")
    st.caption(
        "Pearson correlation of each sample's GGI scores with each group's mean "
        f"{result.placement_note}."
    )
    ui.chart(
        charts.placement,
        result.placement,
        "placement",
        key="up_place_chart",
        title=f"{ui.scale_note(atlas)}{atlas.name}: correlation with group means",
    )
elif result.placement_note:
    st.info(result.placement_note)
