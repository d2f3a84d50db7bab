"""Plotly figures of the dashboard: each takes a query result and returns a ``go.Figure``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TISSUE_COLOURS = {
    "tumour": "#c0392b",
    "normal": "#2e86c1",
    "cell_line": "#7f8c8d",
    "treated": "#8e44ad",
    "vehicle": "#95a5a6",
    "unknown": "#7f8c8d",
}
SCORE_SCALE = "Viridis"
DIVERGING = "RdBu_r"


def _layout(fig: go.Figure, title: str, *, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        template="plotly_white",
    )
    return fig


def heatmap(long: pd.DataFrame, *, rows: list, cols: list, title: str, label: str) -> go.Figure:
    """Groups (rows) x GGIs (columns) coloured by ``value`` in the given (clustered) order."""
    m = long.pivot_table(index="group", columns="ggi", values="value", aggfunc="first")
    m = m.reindex(index=rows, columns=cols)
    fig = go.Figure(
        go.Heatmap(
            z=m.to_numpy(),
            x=list(m.columns),
            y=list(m.index),
            colorscale=SCORE_SCALE,
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": label, "side": "right"}},
            hovertemplate="%{y}<br>%{x}<br>" + label + " %{z:.2f}<extra></extra>",
        )
    )
    fig.update_xaxes(tickangle=-60, tickfont={"size": 9})
    return _layout(fig, title, height=max(360, 22 * len(rows) + 220))


def group_order(groups: pd.DataFrame, pairs: pd.DataFrame | None = None) -> list[str]:
    """GEPIA order: each tumour group followed by its matched normal, then the rest."""
    types = dict(zip(groups["group"], groups["tissue_type"], strict=False))
    order: list[str] = []
    ref = {}
    if pairs is not None and len(pairs):
        ref = dict(zip(pairs["group"], pairs["reference"], strict=False))
    for g in sorted(types, key=lambda g: (types[g] != "tumour", g)):
        if g in order:
            continue
        order.append(g)
        if ref.get(g) in types and ref[g] not in order:
            order.append(ref[g])
    return order


def by_group(
    df: pd.DataFrame,
    *,
    y: str,
    order: list[str],
    title: str,
    y_title: str,
    kind: str = "violin",
    threshold: float | None = None,
) -> go.Figure:
    """A violin (or box) per group in ``order``, coloured by tissue type (one trace per tissue
    type: Plotly draws one shape per x category; a trace per group is slow by the dozen); groups
    of fewer than 5 samples as boxes. An optional dotted ``threshold`` line."""
    fig = go.Figure()
    d = df.copy()
    if "tissue_type" not in d:
        d["tissue_type"] = "unknown"
    d["tissue_type"] = d["tissue_type"].fillna("unknown").astype(str)
    sizes = d.groupby("group")["group"].transform("size")
    many = len(d) > 3000
    for tissue, part in d.groupby("tissue_type", sort=True):
        colour = TISSUE_COLOURS.get(tissue, "#7f8c8d")
        for as_violin, sub in (
            (True, part[sizes[part.index] >= 5]),
            (False, part[sizes[part.index] < 5]),
        ):
            if sub.empty:
                continue
            common = {
                "x": sub["group"],
                "y": sub[y],
                "name": tissue.replace("_", " "),
                "legendgroup": tissue,
                "showlegend": not any(t.legendgroup == tissue for t in fig.data),
                "marker": {"color": colour, "size": 3},
                "line": {"color": colour},
                "hovertext": sub["sample_id"] if "sample_id" in sub else None,
            }
            if kind == "violin" and as_violin:
                fig.add_trace(
                    go.Violin(
                        **common,
                        box_visible=True,
                        points=False if many else "all",
                        jitter=0.3,
                        pointpos=0,
                        spanmode="hard",
                        scalemode="width",
                    )
                )
            else:
                fig.add_trace(go.Box(**common, boxpoints="all", jitter=0.3, pointpos=0))
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dot", line_color="#7f8c8d")
    fig.update_layout(violinmode="overlay", boxmode="overlay", legend_title_text="tissue")
    fig.update_yaxes(title=y_title)
    shown = [g for g in order if g in set(d["group"])]
    fig.update_xaxes(
        tickangle=-45,
        categoryorder="array",
        categoryarray=shown,
        tickmode="array",
        tickvals=shown,
        ticktext=shown,
    )
    return _layout(fig, title)


def summary_bars(
    df: pd.DataFrame, *, y: str, order: list[str], title: str, y_title: str
) -> go.Figure:
    """Bars per group (atlases with a summary only), coloured by tissue type."""
    d = df.set_index("group").reindex(order).reset_index()
    colours = [TISSUE_COLOURS.get(str(t), "#7f8c8d") for t in d["tissue_type"]]
    fig = go.Figure(go.Bar(x=d["group"], y=d[y], marker_color=colours))
    fig.update_yaxes(title=y_title, range=[0, 1])
    fig.update_xaxes(tickangle=-45)
    return _layout(fig, title)


def volcano(df: pd.DataFrame, *, title: str) -> go.Figure:
    """Change in the share of samples with the GGI (x) against -log10 q (y)."""
    fig = go.Figure()
    up = df["passes"] & (df["delta_fraction"] > 0)
    down = df["passes"] & (df["delta_fraction"] < 0)
    for mask, name, colour in (
        (~(up | down), "not passing", "#bdc3c7"),
        (down, "lower in group", "#2e86c1"),
        (up, "higher in group", "#c0392b"),
    ):
        part = df[mask]
        fig.add_trace(
            go.Scattergl(
                x=part["delta_fraction"],
                y=part["minus_log10_q"],
                mode="markers",
                name=f"{name} ({int(mask.sum())})",
                marker={"color": colour, "size": 5, "opacity": 0.7},
                text=part["ggi"],
                hovertemplate="%{text}<br>Δ fraction %{x:.2f}<br>-log10 q %{y:.2f}<extra></extra>",
            )
        )
    fig.update_xaxes(title="Δ fraction of samples with the GGI (group − reference)")
    fig.update_yaxes(title="−log10 q (Mann-Whitney, BH)")
    return _layout(fig, title)


def burden_expression(df: pd.DataFrame, *, order: list[str], title: str) -> go.Figure:
    """Per-sample correlation of GGI score with anchor-gene expression, per group."""
    fig = by_group(
        df,
        y="expression_correlation",
        order=order,
        title=title,
        y_title="Spearman ρ (GGI score vs anchor expression)",
        kind="box",
    )
    fig.add_hline(y=0, line_dash="dot", line_color="#7f8c8d")
    return fig


def burden_scatter(df: pd.DataFrame, *, title: str) -> go.Figure:
    """GGIs per sample against the sample's score-expression correlation."""
    fig = go.Figure()
    for tissue, part in df.groupby("tissue_type", sort=True):
        fig.add_trace(
            go.Scattergl(
                x=part["expression_correlation"],
                y=part["n_ggi"],
                mode="markers",
                name=str(tissue).replace("_", " "),
                marker={"color": TISSUE_COLOURS.get(str(tissue), "#7f8c8d"), "size": 6},
                text=part["sample_id"] + " (" + part["group"] + ")",
                hovertemplate="%{text}<br>ρ %{x:.2f}<br>%{y} GGIs<extra></extra>",
            )
        )
    fig.update_xaxes(title="Spearman ρ (GGI score vs anchor expression)")
    fig.update_yaxes(title="GGIs with score ≥ 0.5")
    return _layout(fig, title)


def span(ggis: pd.DataFrame, start: int, end: int, *, pad: int = 20_000) -> tuple[int, int]:
    """``start, end`` widened to hold every anchor of ``ggis``."""
    if ggis.empty:
        return start, end
    lo = int(ggis[["start1", "start2"]].min().min()) - pad
    hi = int(ggis[["end1", "end2"]].max().max()) + pad
    return min(start, lo), max(end, hi)


def _arc(x0: float, x1: float, height: float, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, np.pi, n)
    mid, half = (x0 + x1) / 2, abs(x1 - x0) / 2
    return mid - half * np.cos(t), height * np.sin(t)


def arcs(
    ggis: pd.DataFrame,
    genes: pd.DataFrame,
    *,
    start: int,
    end: int,
    value: str,
    label: str,
    title: str,
    focus: str | None = None,
) -> go.Figure:
    """Arc diagram: one arc per GGI between its anchor midpoints (colour = ``value`` in [0, 1]),
    over a gene track of ``genes``; ``focus`` (a gene id) is highlighted."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.03
    )
    mb = 1e6
    d = ggis.copy()
    d["m1"] = (d["start1"] + d["end1"]) / 2 / mb
    d["m2"] = (d["start2"] + d["end2"]) / 2 / mb
    v = d[value].astype(float)
    d["v"] = v
    top = float(np.abs(d["m2"] - d["m1"]).max() / 2) if len(d) else 1.0
    # arcs drawn in 10 colour bins, one trace each (a trace per arc is slow by the hundred)
    bins = np.minimum((v.fillna(0).clip(0, 1) * 10).astype(int), 9).to_numpy()
    colours = _sample_colours((np.arange(10) + 0.5) / 10)
    for b in range(10):
        mask = bins == b
        if not mask.any():
            continue
        xs, ys = [], []
        for row in d[mask].itertuples():
            x, y = _arc(row.m1, row.m2, abs(row.m2 - row.m1) / 2)
            xs += [*x, None]
            ys += [*y, None]
        line = {"color": colours[b], "width": 2}
        fig.add_trace(
            go.Scatter(x=xs, y=ys, mode="lines", line=line, hoverinfo="skip", showlegend=False),
            row=1,
            col=1,
        )
    text = [
        f"{r.symbol1}–{r.symbol2} (GGI {r.ggi_id})<br>{label}: "
        + ("n/a" if np.isnan(r.v) else f"{r.v:.2f}")
        + f"<br>distance {r.distance / 1e3:,.0f} kb"
        for r in d.itertuples()
    ]
    fig.add_trace(
        go.Scatter(
            x=(d["m1"] + d["m2"]) / 2,
            y=np.abs(d["m2"] - d["m1"]) / 2,
            mode="markers",
            marker={
                "color": v.fillna(0),
                "colorscale": SCORE_SCALE,
                "cmin": 0,
                "cmax": 1,
                "size": 7,
                "colorbar": {"title": {"text": label}, "len": 0.7, "y": 0.65},
            },
            text=text,
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    named = set(d["gene_id1"].astype(str)) | set(d["gene_id2"].astype(str)) | {focus}
    _gene_track(fig, genes, focus=focus, named=named, row=2)
    # arc height is half the anchor distance; the axis spans at least a quarter of the window
    ymax = max(top, (end - start) / mb / 4) * 1.08
    fig.update_yaxes(visible=False, row=1, col=1, range=[0, ymax])
    fig.update_yaxes(visible=False, row=2, col=1, range=[-1.5, 3.5])
    fig.update_xaxes(
        title=f"{d['chrom'].iloc[0] if len(d) else ''} position (Mb, hg19)",
        range=[start / mb, end / mb],
        row=2,
        col=1,
    )
    return _layout(fig, title, height=520)


def highlight(fig: go.Figure, ggi: pd.Series) -> go.Figure:
    """Draw one GGI's arc (a row of the arcs' table) in black on top of an arc diagram."""
    m1 = (ggi["start1"] + ggi["end1"]) / 2 / 1e6
    m2 = (ggi["start2"] + ggi["end2"]) / 2 / 1e6
    x, y = _arc(m1, m2, abs(m2 - m1) / 2)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            line={"color": "#111", "width": 4},
            name=f"{ggi['symbol1']}–{ggi['symbol2']}",
            hoverinfo="name",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    return fig


def _sample_colours(values: np.ndarray) -> list[str]:
    from plotly.colors import sample_colorscale

    if not len(values):
        return []
    return sample_colorscale(SCORE_SCALE, list(values))


def _gene_track(
    fig: go.Figure, genes: pd.DataFrame, *, focus: str | None, named: set, row: int
) -> None:
    """Genes as boxes in three lanes (two filled traces, not one shape per gene: Plotly's shapes
    are slow by the hundred); anchor genes (``named``) labelled, ``focus`` in red."""
    mb = 1e6
    genes = genes.sort_values("start").reset_index(drop=True)
    lane_end = [-np.inf, -np.inf, -np.inf]
    boxes: dict[bool, tuple[list, list]] = {False: ([], []), True: ([], [])}
    xs, ys, labels, hover = [], [], [], []
    for g in genes.itertuples():
        lane = next((i for i, e in enumerate(lane_end) if g.start > e), g.Index % 3)
        lane_end[lane] = g.end + (g.end - g.start) + 30_000
        is_focus = focus is not None and g.gene_id == focus
        x0, x1 = g.start / mb, g.end / mb
        bx, by = boxes[is_focus]
        bx += [x0, x1, x1, x0, x0, None]
        by += [lane - 0.2, lane - 0.2, lane + 0.2, lane + 0.2, lane - 0.2, None]
        label = (g.symbol or g.gene_id) if (g.gene_id in named or len(genes) <= 40) else ""
        xs.append((x0 + x1) / 2)
        ys.append(lane + 0.45)
        labels.append(f"<b>{g.symbol}</b>" if is_focus else label)
        hover.append(f"{g.symbol or ''} {g.gene_id}")
    for is_focus, (bx, by) in boxes.items():
        if bx:
            colour = "#c0392b" if is_focus else "#34495e"
            fig.add_trace(
                go.Scatter(
                    x=bx,
                    y=by,
                    mode="lines",
                    fill="toself",
                    fillcolor=colour,
                    line={"width": 0.5, "color": colour},
                    hoverinfo="skip",
                    showlegend=False,
                ),
                row=row,
                col=1,
            )
    if xs:
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="text",
                text=labels,
                textfont={"size": 9},
                hovertext=hover,
                hoverinfo="text",
                showlegend=False,
            ),
            row=row,
            col=1,
        )


def expression_boxes(
    df: pd.DataFrame, *, genes: dict[str, str], order: list[str], title: str
) -> go.Figure:
    """log2(TPM + 1) of each gene per group, one panel per gene."""
    fig = make_subplots(
        rows=1, cols=len(genes), subplot_titles=list(genes.values()), shared_yaxes=True
    )
    shown = set()
    for i, gene_id in enumerate(genes, start=1):
        part = df[df["gene_id"] == gene_id]
        for tissue, tp in part.groupby("tissue_type", sort=True):
            colour = TISSUE_COLOURS.get(str(tissue), "#7f8c8d")
            fig.add_trace(
                go.Box(
                    x=tp["group"],
                    y=np.log2(tp["tpm"] + 1),
                    name=str(tissue).replace("_", " "),
                    legendgroup=str(tissue),
                    showlegend=tissue not in shown,
                    marker={"color": colour, "size": 3},
                    boxpoints="all",
                    jitter=0.3,
                    pointpos=0,
                ),
                row=1,
                col=i,
            )
            shown.add(tissue)
        fig.update_xaxes(categoryorder="array", categoryarray=order, tickangle=-45, row=1, col=i)
    fig.update_yaxes(title="log2(TPM + 1)", row=1, col=1)
    fig.update_layout(boxmode="group")
    return _layout(fig, title)


def ranking(df: pd.DataFrame, *, title: str, n: int = 30) -> go.Figure:
    """Top compounds by connectivity score (negative = reverses the gene set)."""
    d = df.head(n).iloc[::-1]
    colours = np.where(d["q"] <= 0.05, "#2e86c1", "#bdc3c7")
    dose = d["pert_dose"].astype(str).where(d["pert_dose"].astype(str) != "all", "")
    unit = d["pert_dose_unit"].fillna("").astype(str) if "pert_dose_unit" in d else ""
    labels = (d["pert_iname"].astype(str) + " " + dose + unit).str.strip()
    labels = labels + np.where(labels.duplicated(keep=False), " #" + d.index.astype(str), "")
    fig = go.Figure(
        go.Bar(
            x=d["score"],
            y=labels,
            orientation="h",
            marker_color=colours,
            customdata=np.stack([d["p"], d["q"]], axis=1),
            hovertemplate="%{y}<br>score %{x:.3f}<br>p %{customdata[0]:.3g}"
            "<br>q %{customdata[1]:.3g}<extra></extra>",
        )
    )
    fig.update_xaxes(title="connectivity score (negative = reverses the set; blue: q ≤ 0.05)")
    return _layout(fig, title, height=max(360, 18 * len(d) + 120))


def dose_response(df: pd.DataFrame, *, title: str) -> go.Figure:
    """Mean change of the gene set's GGIs against dose, one line per cell line and time."""
    fig = go.Figure()
    d = df.copy()
    d["dose"] = pd.to_numeric(d["pert_dose"], errors="coerce")
    for (cell, t), part in d.groupby(["cell_id", "pert_time"], sort=True):
        part = part.sort_values("dose")
        fig.add_trace(
            go.Scatter(
                x=part["dose"],
                y=part["mean_delta"],
                mode="lines+markers",
                name=f"{cell}, {t}",
                hovertemplate="dose %{x}<br>mean Δ %{y:.3f}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line_dash="dot", line_color="#7f8c8d")
    fig.update_xaxes(title="dose", type="log")
    fig.update_yaxes(title="mean Δ score over the set (treated − vehicle)")
    return _layout(fig, title)


def ggi_changes(df: pd.DataFrame, *, title: str) -> go.Figure:
    """GGIs a compound reverses (blue) or gains (red), mean change across its signatures."""
    d = df.sort_values("mean_delta")
    labels = d["symbol1"] + "–" + d["symbol2"] + np.where(d["in_set"], " ★", "")
    fig = go.Figure(
        go.Bar(
            x=d["mean_delta"],
            y=labels,
            orientation="h",
            marker_color=np.where(d["mean_delta"] < 0, "#2e86c1", "#c0392b"),
        )
    )
    fig.update_xaxes(title="mean Δ score (★ = in the chosen gene set)")
    fig.update_yaxes(categoryorder="array", categoryarray=list(labels))
    return _layout(fig, title, height=max(360, 16 * len(d) + 120))


def metrics_bars(df: pd.DataFrame, *, metric: str, title: str) -> go.Figure:
    """Ours beside the published model per cell line."""
    fig = go.Figure()
    for who, part in df.groupby("who", sort=False):
        fig.add_trace(
            go.Bar(
                x=part["cell_line"],
                y=part[metric],
                name=str(who),
                text=part[metric].map(lambda v: f"{v:.3f}" if pd.notna(v) else ""),
                textposition="outside",
            )
        )
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.15})
    fig.update_yaxes(title=metric.upper(), range=[0, 1.05])
    return _layout(fig, title)


def curves(long: pd.DataFrame, *, x: str, y: str, title: str, diagonal: bool) -> go.Figure:
    """ROC or PR curves, one line per ``evaluation``."""
    fig = go.Figure()
    for name, d in long.groupby("evaluation", sort=False):
        fig.add_trace(go.Scatter(x=d[x], y=d[y], mode="lines", name=str(name)))
    if diagonal:
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="chance",
                line={"dash": "dot", "color": "#7f8c8d"},
            )
        )
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(title=x.upper() if len(x) <= 3 else x, range=[0, 1])
    fig.update_yaxes(title=y.upper() if len(y) <= 3 else y, range=[0, 1.02])
    return _layout(fig, title)


def matrix(
    m: pd.DataFrame,
    *,
    title: str,
    label: str,
    zmin: float = 0.5,
    rows: str = "trained on",
    columns: str = "evaluated on",
) -> go.Figure:
    """A labelled matrix (by default trained on x evaluated on), values printed in the cells."""
    fig = go.Figure(
        go.Heatmap(
            z=m.to_numpy(dtype=float),
            x=list(m.columns),
            y=list(m.index),
            colorscale=SCORE_SCALE,
            zmin=zmin,
            zmax=1,
            text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.3f}")(m.to_numpy(float)),
            texttemplate="%{text}",
            colorbar={"title": {"text": label}},
        )
    )
    fig.update_xaxes(title=columns)
    fig.update_yaxes(title=rows, autorange="reversed")
    return _layout(fig, title)


def placement(df: pd.DataFrame, *, title: str, n: int = 20) -> go.Figure:
    """Correlation of each uploaded sample's GGI profile with each group's mean profile: the
    ``n`` groups closest to any sample, best first."""
    fig = go.Figure()
    best = df.groupby("group")["correlation"].max().sort_values(ascending=False)
    keep = best.index[:n].tolist()
    df = df[df["group"].isin(keep)]
    for sample, part in df.groupby("sample", sort=False):
        part = part.set_index("group").loc[keep].reset_index()
        fig.add_trace(
            go.Bar(
                x=part["group"],
                y=part["correlation"],
                name=str(sample),
                hovertemplate="%{x}<br>r %{y:.3f}<extra>" + str(sample) + "</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="Pearson r with the group's mean GGI scores")
    fig.update_xaxes(tickangle=-45, categoryorder="array", categoryarray=keep)
    return _layout(fig, title)


def counts(df: pd.DataFrame, *, title: str) -> go.Figure:
    """Samples per group, coloured by tissue type."""
    fig = go.Figure()
    for tissue, part in df.groupby("tissue_type", sort=True):
        fig.add_trace(
            go.Bar(
                x=part["group"],
                y=part["samples"],
                name=str(tissue).replace("_", " "),
                marker_color=TISSUE_COLOURS.get(str(tissue), "#7f8c8d"),
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="samples")
    fig.update_xaxes(tickangle=-45)
    return _layout(fig, title, height=340)
