"""Gene / GGI explorer: find a gene, see the GGIs around its locus, inspect one GGI."""

import streamlit as st

from dashboard import charts, ui

st.title("Gene / GGI explorer")
c1, c2, c3 = st.columns([2, 3, 2])
query = c1.text_input(
    "Gene symbol or Ensembl id",
    key="expl_gene",
    bind="query-params",
    placeholder="e.g. MYC, TP53 or ENSG00000136997",
)
flank = c3.select_slider(
    "Window around the gene (kb each side)",
    [100, 250, 500, 1000, 2000],
    value=1000,
    key="expl_flank",
    bind="query-params",
)
if not query:
    st.info("Type a gene symbol or an Ensembl id to see its GGIs.")
    st.stop()
hits = ui.ask("search_genes", query, limit=20)
if hits.empty:
    st.info(f"No gene matches {query!r}; try a symbol (TP53) or an Ensembl id (ENSG…).")
    st.stop()
labels = {
    r.gene_id: f"{r.symbol or r.gene_id} · {r.gene_id} · {r.chrom}"
    + ("" if r.in_catalog else " · no GGI")
    for r in hits.itertuples()
}
gene_id = c2.selectbox("Matches", list(labels), format_func=labels.get, key="expl_match")
gene = ui.ask("gene", gene_id)

c1, c2 = st.columns(2)
with c1:
    atlas = ui.pick_atlas("expl_atlas", needs=("ggis",), what="GGIs")
name, note = atlas.name, ui.scale_note(atlas)
groups = ui.ask("groups", name)
group = c2.selectbox("Colour arcs by the group", groups, key="expl_group", bind="query-params")
start, end = int(gene.start) - flank * 1000, int(gene.end) + flank * 1000
near = ui.ask("ggis_near", name, gene.chrom, start, end, group=group)
symbol = gene.symbol or gene.gene_id
st.subheader(f"{symbol}: {len(near)} GGIs within {flank:,} kb ({gene.chrom}:{start:,}-{end:,})")
if near.empty:
    st.info(f"No GGI of {name}'s catalog has an anchor near {symbol}.")
    st.stop()
value = "mean" if near["mean"].notna().any() else "fraction"
label = "mean score" if value == "mean" else "share ≥ 0.5"
own = (near["gene_id1"] == gene.gene_id) | (near["gene_id2"] == gene.gene_id)
ids = near.loc[own, "ggi_id"].tolist() + near.loc[~own, "ggi_id"].tolist()
pair = dict(zip(near["ggi_id"], near["symbol1"] + "–" + near["symbol2"], strict=True))
ggi_id = st.selectbox(
    "GGI", ids, format_func=lambda i: f"{pair[i]} (GGI {i})", key="expl_ggi", bind="query-params"
)
lo, hi = charts.span(near, start, end)
ui.chart(
    charts.arcs,
    near,
    f"{name}-{symbol}-arcs",
    key="expl_arcs",
    genes=ui.ask("genes_in", gene.chrom, lo, hi),
    start=lo,
    end=hi,
    value=value,
    label=label,
    focus=gene.gene_id,
    after=lambda fig: charts.highlight(fig, near[near["ggi_id"] == ggi_id].iloc[0]),
    title=f"{note}{name}: GGIs around {symbol}, coloured by {label} in {group}",
)
ui.table(near, f"{name}-{symbol}-ggis", key="expl_table", height=240)

st.subheader(f"GGI {pair[ggi_id]} across groups")
dist = ui.ask("ggi_distribution", name, ggi_id)
refs = ui.ask("references", name) if atlas.has("differential") else None
order = charts.group_order(ui.ask("group_types", name), refs)
if "score" in dist:
    dist = ui.without_small_groups(dist, key="expl_small")
    ui.chart(
        charts.by_group,
        dist,
        f"{name}-ggi{ggi_id}",
        key="expl_dist",
        y="score",
        order=order,
        y_title="GGI score",
        threshold=0.5,
        title=f"{note}{name}: {pair[ggi_id]} score per sample",
    )
else:
    ui.chart(
        charts.summary_bars,
        dist,
        f"{name}-ggi{ggi_id}",
        key="expl_dist",
        y="fraction",
        order=order,
        y_title="share with score ≥ 0.5",
        title=f"{note}{name}: {pair[ggi_id]}, share of samples per group",
    )

row = near[near["ggi_id"] == ggi_id].iloc[0]
expr = ui.ask("expression", name, [row.gene_id1, row.gene_id2])
if expr.empty:
    st.info(f"{name} stores no expression for these genes.")
else:
    ui.chart(
        charts.expression_boxes,
        expr,
        f"{name}-ggi{ggi_id}-expression",
        key="expl_expr",
        genes={row.gene_id1: row.symbol1, row.gene_id2: row.symbol2},
        order=order,
        title=f"{note}{name}: expression of the two genes",
    )
