"""Overview: the loaded atlases with their provenance, and a quick gene search."""

import streamlit as st

from dashboard import charts, ui

st.title("AI4Loop Atlas")
st.markdown(
    "Gene-gene chromatin interactions (**GGIs**) predicted from RNA-seq by AI4Loop: a GGI is a "
    "pair of genes whose anchors are predicted to be in contact (score ≥ 0.5). Atlases hold "
    "those scores for cohorts of tumours, normal tissues, cell lines and drug perturbations."
)
store = ui.store()
atlases = ui.ask("overview")
real, synthetic = atlases[~atlases["synthetic"]], atlases[atlases["synthetic"]]

st.subheader("Loaded atlases")
ui.table(real.drop(columns=["synthetic"]), "atlases", key="ov_atlases")
if len(synthetic):
    st.warning(
        f"{ui.SYNTHETIC_NOTE} Loaded synthetic atlases: {', '.join(synthetic['atlas'])}.",
        icon=":material/science:",
    )

st.subheader("Quick gene search")
query = st.text_input(
    "Gene symbol or Ensembl id",
    key="ov_gene",
    bind="query-params",
    placeholder="e.g. MYC, TP53 or ENSG00000136997",
)
if query:
    hits = ui.ask("search_genes", query, limit=8)
    if hits.empty:
        st.info(f"No gene matches {query!r}; try a symbol (TP53) or an Ensembl id.")
    for hit in hits.itertuples():
        tag = "" if hit.in_catalog else " (no GGI in the loaded catalogs)"
        st.page_link(
            "views/explorer.py",
            label=f"{hit.symbol or hit.gene_id} · {hit.gene_id} · "
            f"{hit.chrom}:{hit.start:,}-{hit.end:,}{tag}",
            icon=":material/arrow_forward:",
            query_params={"expl_gene": hit.gene_id},
        )

st.subheader("Samples per group")
for name in store.names(needs=("samples",)):
    atlas = store.atlas(name)
    if atlas.kind == "drug":
        continue
    with st.container(border=True):
        ui.provenance(atlas)
        groups = ui.ask("group_counts", name)
        title = f"{ui.scale_note(atlas)}{name}: samples per group"
        ui.chart(charts.counts, groups, f"{name}-samples", key=f"ov_n_{name}", title=title)
