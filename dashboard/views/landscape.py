"""Pan-cancer landscape: clustered heatmap, GGI burden per group, differential GGIs."""

import streamlit as st

from dashboard import charts, ui
from dashboard.query import cluster_order

st.title("Pan-cancer landscape")
atlas = ui.pick_atlas(
    "land_atlas",
    needs=("group_summary", "ggis"),
    what="the landscape",
    label="Atlas (built here or published)",
)
name, note = atlas.name, ui.scale_note(atlas)
types = ui.ask("group_types", name)
refs = ui.ask("references", name) if atlas.has("differential") else None
order = charts.group_order(types, refs)
heat_tab, burden_tab, diff_tab, expr_tab = st.tabs(
    ["Heatmap", "GGI burden", "Differential GGIs", "Burden vs expression"],
    key="land_tab",
    bind="query-params",
    on_change="rerun",
)

no_samples = f"{name} has no per-sample scores ({atlas.source}); choose a built atlas."

if heat_tab.open:
    with heat_tab:
        c1, c2 = st.columns(2)
        n_top = c1.slider(
            "Most variable GGIs", 10, 100, 40, step=10, key="land_top", bind="query-params"
        )
        labels = {"fraction": "share of samples with score ≥ 0.5", "mean": "mean score"}
        value = c2.radio(
            "Colour",
            ["fraction"] + ([] if atlas.published else ["mean"]),
            horizontal=True,
            key="land_value",
            bind="query-params",
            format_func=labels.get,
        )
        sizes = ui.ask("group_sizes", name)
        small = sizes["samples"] < 3
        label = f"Include the {small.sum()} groups with fewer than 3 samples (single profiles)"
        keep = []  # every group
        if small.any() and not st.toggle(label, key="land_heat_small", bind="query-params"):
            keep = sizes.loc[~small, "group"].tolist()
        long = ui.ask("heatmap", name, n_top=n_top, value=value, groups=keep)
        if long.empty:
            st.info("No group summary values to show.")
        else:
            m = long.pivot_table(index="group", columns="ggi", values="value", aggfunc="first")
            rows, cols = cluster_order(m)
            title = f"{note}{name}: groups × {n_top} most variable GGIs (clustered)"
            ui.chart(
                charts.heatmap,
                long,
                f"{name}-heatmap",
                key="land_heat",
                rows=rows,
                cols=cols,
                title=title,
                label=labels[value],
            )

if burden_tab.open:
    with burden_tab:
        if not atlas.has("sample_burden"):
            st.info(no_samples)
        else:
            labels = {"n_ggi": "GGIs per sample (score ≥ 0.5)", "mean_score": "mean score"}
            metric = st.radio(
                "Burden",
                list(labels),
                horizontal=True,
                key="land_burden",
                bind="query-params",
                format_func=labels.get,
            )
            burden = ui.without_small_groups(ui.ask("burden", name), key="land_small")
            ui.chart(
                charts.by_group,
                burden,
                f"{name}-burden",
                key="land_burden_chart",
                y=metric,
                order=order,
                y_title=labels[metric],
                title=f"{note}{name}: GGI burden per group (tumour beside its normal)",
            )

if diff_tab.open:
    with diff_tab:
        if refs is None or refs.empty:
            st.info(f"{name} has no differential table ({atlas.source}).")
        else:
            c1, c2, c3 = st.columns(3)
            group = c1.selectbox(
                "Tumour group", refs["group"].tolist(), key="land_group", bind="query-params"
            )
            delta = c2.slider(
                "|Δ fraction| at least",
                0.0,
                1.0,
                0.2,
                step=0.05,
                key="land_delta",
                bind="query-params",
            )
            q = c3.select_slider(
                "q at most",
                [0.001, 0.01, 0.05, 0.1, 0.25, 1.0],
                value=0.05,
                key="land_q",
                bind="query-params",
            )
            ref = refs.loc[refs["group"] == group, "reference"].iloc[0]
            table = ui.ask("differential", name, group, min_abs_delta=delta, max_q=q)
            points = ui.ask("volcano", name, group, min_abs_delta=delta, max_q=q)
            n_pass = int(points["passes"].sum())
            shown = "" if n_pass <= len(table) else f"; the {len(table)} largest changes listed"
            st.caption(f"{group} against {ref}: {n_pass} GGIs pass{shown}.")
            fmt = st.column_config.NumberColumn(format="%.3g")
            ui.table(
                table,
                f"{name}-{group}-differential",
                key="land_diff",
                column_config={"p": fmt, "q": fmt},
            )
            ui.chart(
                charts.volcano,
                points,
                f"{name}-{group}-volcano",
                key="land_volcano",
                title=f"{note}{name}: {group} vs {ref}",
            )

if expr_tab.open:
    with expr_tab:
        if not atlas.has("sample_burden"):
            st.info(no_samples)
        else:
            burden = ui.without_small_groups(ui.ask("burden", name), key="land_small_x")
            st.caption(
                "Per sample: Spearman correlation between GGI scores and the mean expression of "
                "the two anchor genes (the paper's “GGI level rises with expression”)."
            )
            ui.chart(
                charts.burden_expression,
                burden,
                f"{name}-burden-expression",
                key="land_bx",
                order=order,
                title=f"{note}{name}: GGI score vs anchor expression",
            )
            ui.chart(
                charts.burden_scatter,
                burden,
                f"{name}-burden-scatter",
                key="land_bs",
                title=f"{note}{name}: GGIs per sample vs ρ",
            )
