"""Drug screening: compounds ranked against a cancer-gain GGI set, and one compound's detail."""

import streamlit as st

from dashboard import charts, ui

st.title("Drug screening")
atlas = ui.pick_atlas(
    "drug_atlas", kind="drug", needs=("drug_ranking", "signatures", "ggis"), what="drug screening"
)
name, note = atlas.name, ui.scale_note(atlas)
cov = ui.ask("coverage", name)
kept = f"{cov['ggis']:,} GGIs" if isinstance(cov.get("ggis"), int) else "the GGIs"
of = f" of {cov['catalog_size']:,} candidates" if cov.get("catalog_size") else ""
st.warning(
    "**L1000 coverage.** LINCS L1000 measures about 978 landmark genes, so most GGI anchor "
    f"windows contain no measured gene. This atlas keeps {kept}{of} whose anchors hold measured "
    f"genes in at least {cov.get('threshold', '?')} of their bins; the others cannot be scored "
    "and no compound can be said to reverse them. Scores are predictions from partial "
    "expression: treat rankings as hypotheses to test.",
    icon=":material/warning:",
)
if cov["caveats"] or cov["method"]:
    with st.expander("How this atlas was built: caveats and ranking method"):
        for caveat in cov["caveats"]:
            st.markdown(f"- {caveat}")
        if cov["method"]:
            st.markdown(f"- Ranking: {cov['method']}")

c1, c2, c3 = st.columns([2, 1, 1])
gene_set = c1.selectbox(
    "Cancer-gain signature (GGI set)",
    ui.ask("gene_sets", name),
    key="drug_set",
    bind="query-params",
)
cell = c2.selectbox("Cell line", ui.ask("drug_cells", name), key="drug_cell", bind="query-params")
find = c3.text_input(
    "Find a compound", key="drug_find", bind="query-params", placeholder="name contains…"
)
ranked = ui.ask("drug_ranking", name, gene_set, cell_id=cell, compound=find)
if ranked.empty:
    st.info(f"No compound matches {find!r} for {gene_set}." if find else "No ranking.")
    st.stop()
st.caption(
    "Connectivity-style score: negative means the compound lowers the set's GGI scores "
    "(reverses the cancer gain); p from permutations, q Benjamini-Hochberg."
)
ui.chart(
    charts.ranking,
    ranked,
    f"{name}-ranking",
    key="drug_rank_chart",
    title=f"{note}{name}: compounds against {gene_set}",
)
fmt = st.column_config.NumberColumn(format="%.3g")
ui.table(
    ranked, f"{name}-ranking-table", key="drug_rank", height=260, column_config={"p": fmt, "q": fmt}
)

compound = st.selectbox(
    "Compound",
    ranked["pert_iname"].drop_duplicates().tolist(),
    key="drug_compound",
    bind="query-params",
)
st.subheader(compound)
members = ui.ask("gene_set_members", gene_set)
if not members:
    st.caption("Gene-set members are not stored; changes are over all GGIs.")
sigs = ui.ask("compound_signatures", name, compound, members=members)
ui.chart(
    charts.dose_response,
    sigs,
    f"{name}-{compound}-dose",
    key="drug_dose",
    title=f"{note}{compound}: dose response over {gene_set}",
)
ui.table(sigs, f"{name}-{compound}-signatures", key="drug_sigs", height=220)
changes = ui.ask("compound_ggis", name, compound, members=members, limit=15)
ui.chart(
    charts.ggi_changes,
    changes,
    f"{name}-{compound}-ggis",
    key="drug_ggis",
    title=f"{note}{compound}: GGIs reversed and gained",
)
