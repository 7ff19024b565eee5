"""The report's interactive figures (plotly), built from the protocol outcomes' numbers and files alone, with
every title and axis in the report's language. Each figure comes as (section id, title, figure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from model.artifacts import ProtocolOutcome
from model.evaluation.figure_data import EDGE_TRUTH, LATENT_POINTS, layered_layout, read_csv
from model.evaluation.lattice_check import LABEL_NODE
from model.markup import plotly_text
from model.report.text import phrases

Figure = tuple[str, str, go.Figure]
# The heatmap shows at most this many features (those that receive the most attention) on wide data.
MAX_HEATMAP_FEATURES = 150
EDGE_COLOURS = {"true": "#2ca02c", "false": "#d62728", "missing": "#ff7f0e", "learned": "#7f7f7f"}
# At most this many tick labels per axis that names features or cohorts (every n-th beyond it).
MAX_TICK_LABELS = 50
# Where along an edge its hover point sits: never on a node (nodes sit on whole and half coordinates).
EDGE_HOVER_AT = 0.42
NODE_COLOURS = {"node_label": "#d62728", "node_read": "#2ca02c", "node_down": "#bdbdbd"}


def _named_ticks(names: list[str]) -> dict[str, Any]:
    """An axis whose positions 0, 1, ... carry `names` as tick labels. Names are not plotly categories: plotly.js
    keeps categories in a plain object, so a legal name such as `constructor` or `hasOwnProperty` breaks the
    axis and hides the chart's marks."""
    step = -(-len(names) // MAX_TICK_LABELS) or 1
    return {
        "tickmode": "array",
        "tickvals": list(range(0, len(names), step)),
        "ticktext": [plotly_text(name) for name in names[::step]],
        "zeroline": False,
        "showgrid": False,
    }


def _layout(figure: go.Figure, height: int = 480, **extra: Any) -> go.Figure:
    figure.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 60}, **extra)
    return figure


def attention(outcome: ProtocolOutcome, t: Mapping[str, str]) -> Figure | None:
    matrix = read_csv(outcome.files, "visuals/attention/attention_weight.csv", index_col=0)
    if matrix is None:
        return None
    if len(matrix) > MAX_HEATMAP_FEATURES:
        keep = matrix.sum(axis=0).sort_values(ascending=False).index[:MAX_HEATMAP_FEATURES]
        matrix = matrix.loc[keep, keep]
    keys, queries = [str(name) for name in matrix.columns], [str(name) for name in matrix.index]
    heatmap = go.Heatmap(
        z=matrix.to_numpy(),
        x=list(range(len(keys))),
        y=list(range(len(queries))),
        customdata=[[[plotly_text(query), plotly_text(key)] for key in keys] for query in queries],
        colorscale="Viridis",
        colorbar={"title": t["weight"]},
        hovertemplate=f"{t['query']}: %{{customdata[0]}}<br>{t['key']}: %{{customdata[1]}}<br>"
        f"{t['weight']}: %{{z:.4f}}<extra></extra>",
    )
    figure = go.Figure(heatmap)
    figure.update_yaxes(autorange="reversed", title=t["query"], **_named_ticks(queries))
    figure.update_xaxes(title=t["key"], **_named_ticks(keys))
    kl = outcome.metrics["kl_causal"]
    return "attention", f"{t['fig_attention']} (KL = {kl:.3f})", _layout(figure, height=560)


def latent(outcome: ProtocolOutcome, t: Mapping[str, str]) -> list[Figure]:
    points = read_csv(outcome.files, LATENT_POINTS, dtype={"label": str, "cohort": str})
    if points is None:
        return []
    figures = []
    for method, prefix in (("t-SNE", "tsne"), ("PCA", "pca")):
        columns = [c for c in ("label", "cohort") if c in points]
        titles = [t["by_label"] if c == "label" else t["by_cohort"] for c in columns] or [method]
        figure = make_subplots(rows=1, cols=max(len(columns), 1), subplot_titles=titles)
        hover = "<br>".join(f"{t[c]}: %{{customdata[{i}]}}" for i, c in enumerate(columns))
        for panel, column in enumerate(columns or [None], start=1):
            groups = points.groupby(column, sort=True) if column else [("z", points)]
            for value, rows in groups:
                figure.add_trace(
                    go.Scatter(
                        x=rows[f"{prefix}_1"],
                        y=rows[f"{prefix}_2"],
                        mode="markers",
                        marker={"size": 6, "opacity": 0.8},
                        name=f"{t[column]} {plotly_text(str(value))}" if column else method,
                        legendgroup=column or "z",
                        customdata=rows[columns].astype(str).map(plotly_text).to_numpy() if columns else None,
                        hovertemplate=f"{hover}<extra></extra>",
                    ),
                    row=1,
                    col=panel,
                )
            figure.update_xaxes(title=f"{method} 1", row=1, col=panel)
            figure.update_yaxes(title=f"{method} 2", row=1, col=panel)
        silhouette = outcome.metrics["silhouette"]
        title = f"{t['fig_latent'].format(method=method)} (silhouette = {silhouette:.3f})"
        figures.append((f"latent-{prefix}", title, _layout(figure)))
    return figures


def lattice(outcome: ProtocolOutcome, t: Mapping[str, str]) -> list[Figure]:
    edges = read_csv(outcome.files, EDGE_TRUTH)
    if edges is None:
        return []
    metrics = outcome.metrics
    nodes = [str(n) for n in metrics["nodes"]]
    learned = edges[edges["status"] != "missing"]
    layout = layered_layout(nodes, list(zip(learned["source"], learned["target"], strict=True)))
    readable = set(metrics["readable_features"])
    figure = go.Figure()
    for status in ("true", "false", "learned", "missing"):
        rows = edges[edges["status"] == status]
        if rows.empty:
            continue
        xs: list[float | None] = []
        ys: list[float | None] = []
        for source, target in zip(rows["source"], rows["target"], strict=True):
            xs += [layout.x[source], layout.x[target], None]
            ys += [layout.y[source], layout.y[target], None]
        name = t[f"edge_{status}"]
        line = {"color": EDGE_COLOURS[status], "width": 2, "dash": "dash" if status == "missing" else "solid"}
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=line, name=name, hoverinfo="skip"))
        pairs = list(zip(rows["source"], rows["target"], strict=True))
        figure.add_trace(  # a hover point on each edge
            go.Scatter(
                x=[layout.x[s] + EDGE_HOVER_AT * (layout.x[e] - layout.x[s]) for s, e in pairs],
                y=[layout.y[s] + EDGE_HOVER_AT * (layout.y[e] - layout.y[s]) for s, e in pairs],
                mode="markers",
                marker={"size": 7, "color": EDGE_COLOURS[status], "symbol": "diamond"},
                showlegend=False,
                text=[plotly_text(f"{s} → {e}") for s, e in pairs],
                customdata=rows["weight"].to_numpy(),
                hovertemplate=f"%{{text}}<br>p = %{{customdata:.3f}}<br>{name}<extra></extra>",
            )
        )
        for source, target in zip(rows["source"], rows["target"], strict=True):
            figure.add_annotation(
                x=layout.x[target], y=layout.y[target], ax=layout.x[source], ay=layout.y[source],
                xref="x", yref="y", axref="x", ayref="y", showarrow=True, arrowhead=2, arrowsize=1.2,
                arrowwidth=1.5, arrowcolor=EDGE_COLOURS[status], standoff=11, startstandoff=11, text="",
            )  # fmt: skip
    degree_in = learned["target"].value_counts()
    degree_out = learned["source"].value_counts()
    for role in ("node_label", "node_read", "node_down"):
        members = [
            n
            for n in nodes
            if role == ("node_label" if n == LABEL_NODE else "node_read" if n in readable else "node_down")
        ]
        if not members:
            continue
        figure.add_trace(
            go.Scatter(
                x=[layout.x[n] for n in members],
                y=[layout.y[n] for n in members],
                mode="markers+text",
                marker={"size": 20, "color": NODE_COLOURS[role], "line": {"width": 1, "color": "#333"}},
                text=[plotly_text(n) for n in members],
                textposition="top center",
                name=t[role],
                customdata=[[int(degree_in.get(n, 0)), int(degree_out.get(n, 0))] for n in members],
                hovertemplate=f"%{{text}}<br>{t[role]}<br>{t['in_degree']} %{{customdata[0]}}, "
                f"{t['out_degree']} %{{customdata[1]}}<extra></extra>",
            )
        )
    figure.update_xaxes(title=t["layer"], dtick=1, zeroline=False)
    figure.update_yaxes(visible=False)
    height = max(480, 42 * max(list(pd.Series(layout.x).value_counts()) or [1]))
    title = f"{t['fig_lattice']} (p >= {metrics['threshold']})"
    figures = [("lattice", title, _layout(figure, height=height))]
    features = learned[(learned["source"] != LABEL_NODE) & (learned["target"] != LABEL_NODE)]
    feature_nodes = [n for n in nodes if n != LABEL_NODE]
    degrees = pd.DataFrame(
        {
            t["in_degree"]: [int((features["target"] == n).sum()) for n in feature_nodes],
            t["out_degree"]: [int((features["source"] == n).sum()) for n in feature_nodes],
        },
        index=feature_nodes,
    )
    histogram = go.Figure(
        [go.Histogram(x=degrees[column], name=column, xbins={"size": 1}) for column in degrees.columns]
    )
    histogram.update_layout(barmode="group")
    histogram.update_xaxes(title=t["degree"], dtick=1)
    histogram.update_yaxes(title=t["count"])
    title = f"{t['fig_degrees']} (DegreeVar = {metrics['degree_variance']:.3f})"
    figures.append(("degrees", title, _layout(histogram, height=380)))
    return figures


def utility(outcome: ProtocolOutcome, t: Mapping[str, str]) -> Figure | None:
    per_epoch = read_csv(outcome.files, "utility/utility_per_epoch.csv", index_col=0)
    if per_epoch is None:
        return None
    blocks = [int(column.split("_")[1]) for column in per_epoch.columns]
    heatmap = go.Heatmap(
        z=per_epoch.to_numpy().T,
        x=list(per_epoch.index),
        y=blocks,
        zmin=0,
        zmax=1,
        colorscale="Plasma",
        colorbar={"title": t["utility"]},
        hovertemplate=f"{t['epoch']} %{{x}}<br>{t['block']} %{{y}}<br>{t['utility']} %{{z:.3f}}<extra></extra>",
    )
    figure = go.Figure(heatmap)
    figure.update_xaxes(title=t["epoch"])
    figure.update_yaxes(title=t["block"], dtick=1)
    return "utility", t["fig_utility"], _layout(figure, height=360)


def reproducibility(outcome: ProtocolOutcome, t: Mapping[str, str]) -> Figure | None:
    if "reproducibility_log.json" not in outcome.files:
        return None
    log = json.loads(outcome.files["reproducibility_log.json"])
    seeds = {f"seed {seed}": run.get("accuracy", float("nan")) for seed, run in log["seeds"].items()}
    figure = go.Figure(
        go.Bar(
            x=list(seeds),
            y=list(seeds.values()),
            text=[f"{value:.3f}" for value in seeds.values()],
            hovertemplate=f"%{{x}}<br>{t['accuracy']} %{{y:.4f}}<extra></extra>",
            name=t["accuracy"],
        )
    )
    figure.add_hline(y=log["accuracy_mean"], line_dash="dash", annotation_text=t["mean"])
    values = [v for v in seeds.values() if np.isfinite(v)]
    if values:
        figure.update_yaxes(range=[max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.03)])
    figure.update_yaxes(title=t["accuracy"])
    title = f"{t['fig_repro']} (σ = {100 * log['accuracy_std']:.2f}%)"
    return "repro", title, _layout(figure, height=380)


def cohorts(outcome: ProtocolOutcome, t: Mapping[str, str]) -> Figure | None:
    metrics = outcome.metrics
    within, held_out = metrics.get("group_accuracy", {}), metrics.get("logo_accuracy", {})
    if not within and not held_out:
        return None
    baselines = metrics.get("logo_baselines", {})
    names = sorted(set(within) | set(held_out))
    series = {
        t["within"]: [within.get(c) for c in names],
        t["held_out"]: [held_out.get(c) for c in names],
        t["logistic"]: [baselines.get(c, {}).get("logistic_regression") for c in names],
        t["oracle"]: [baselines.get(c, {}).get("oracle") for c in names],
    }
    figure = go.Figure(
        [
            go.Bar(
                x=list(range(len(names))),
                y=values,
                name=name,
                text=[f"{v:.3f}" if v is not None else "" for v in values],
                customdata=[plotly_text(c) for c in names],
                hovertemplate=f"{t['cohort']} %{{customdata}}<br>{name}<br>{t['accuracy']} %{{y:.4f}}"
                "<extra></extra>",
            )
            for name, values in series.items()
            if any(v is not None for v in values)
        ]
    )
    figure.update_layout(barmode="group")
    figure.update_yaxes(title=t["accuracy"], range=[0, 1.05])
    figure.update_xaxes(title=t["cohort"], **_named_ticks(names))
    return "cohorts", f"{t['fig_cohorts']} (gap = {metrics['subset_accuracy_gap']:.3f})", _layout(figure, 400)


def interactive_figures(outcomes: Mapping[str, ProtocolOutcome], language: str) -> list[Figure]:
    """Every interactive figure the outcomes can give, in the report's order."""
    t = phrases(language)
    figures: list[Figure | None] = [
        attention(outcomes["attention"], t),
        *latent(outcomes["latent"], t),
        *lattice(outcomes["lattice"], t),
        utility(outcomes["utility"], t),
        reproducibility(outcomes["reproducibility"], t),
        cohorts(outcomes["subsets"], t),
    ]
    return [figure for figure in figures if figure is not None]
