"""The interactive figures and page, from outcomes made by the protocol's own file writers: the lattice's edges
carry their truth status, the layout is layered even with a cycle, and the page inlines plotly.js once."""

from __future__ import annotations

import io
import json

import networkx as nx
import numpy as np
import pandas as pd

from model.artifacts import ProtocolOutcome
from model.evaluation.figure_data import EDGE_TRUTH, LATENT_POINTS, edge_truth, latent_points, layered_layout
from model.report.figures import interactive_figures
from model.report.html import render_html

NAMES = ["g0", "g1", "g2", "b0"]


def _learned() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from([*NAMES, "[label]"])
    graph.add_weighted_edges_from(
        [("g0", "g1", 0.9), ("g1", "[label]", 0.8), ("g2", "g1", 0.7), ("[label]", "b0", 0.95)]
    )
    return graph


def test_edges_are_true_false_or_missing_against_the_truth() -> None:
    truth = [("g0", "g1"), ("g1", "[label]"), ("[label]", "b0"), ("g0", "g2")]
    frame = pd.read_csv(io.BytesIO(edge_truth(_learned(), lambda s, t: 0.25, truth)))
    status = {(s, t): v for s, t, v in zip(frame["source"], frame["target"], frame["status"], strict=True)}
    assert status == {("g0", "g1"): "true", ("g1", "[label]"): "true", ("g2", "g1"): "false",
                      ("[label]", "b0"): "true", ("g0", "g2"): "missing"}  # fmt: skip
    assert frame.loc[frame["status"] == "missing", "weight"].tolist() == [0.25]
    unknown = pd.read_csv(io.BytesIO(edge_truth(_learned(), lambda s, t: 0.0, None)))
    assert set(unknown["status"]) == {"learned"} and len(unknown) == 4


def test_layers_follow_the_causal_order_and_survive_a_cycle() -> None:
    layout = layered_layout([*NAMES, "[label]"], list(_learned().edges))
    assert layout.x["g0"] == layout.x["g2"] == 0 and layout.x["g1"] == 1
    assert layout.x["[label]"] == 2 and layout.x["b0"] == 3
    cyclic = layered_layout(["a", "b", "c"], [("a", "b"), ("b", "a"), ("b", "c")])
    assert cyclic.x["a"] == cyclic.x["b"] == 0 and cyclic.x["c"] == 1


def _outcomes() -> dict[str, ProtocolOutcome]:
    rng = np.random.default_rng(0)
    matrix = pd.DataFrame(rng.dirichlet(np.ones(4), size=4), index=NAMES, columns=NAMES)
    points = latent_points(rng.normal(size=(30, 2)), rng.normal(size=(30, 2)),
                           np.array(["neg", "pos"] * 15), np.array(["lung", "colon", "breast"] * 10))  # fmt: skip
    utility = pd.DataFrame(rng.uniform(size=(5, 3)), columns=["block_0", "block_1", "block_2"],
                           index=pd.RangeIndex(1, 6, name="epoch"))  # fmt: skip
    repro = {
        "seeds": {"42": {"accuracy": 0.9}, "43": {"accuracy": 0.92}},
        "accuracy_mean": 0.91,
        "accuracy_std": 0.01,
    }
    return {
        "attention": ProtocolOutcome({"kl_causal": 0.3}, {"visuals/attention/attention_weight.csv":
                                                          matrix.to_csv(index_label="query").encode()}),
        "latent": ProtocolOutcome({"silhouette": 0.5}, {LATENT_POINTS: points}),
        "lattice": ProtocolOutcome(
            {"nodes": [*NAMES, "[label]"], "readable_features": ["g0", "g1", "g2"], "threshold": 0.5,
             "degree_variance": 0.2},
            {EDGE_TRUTH: edge_truth(_learned(), lambda s, t: 0.1, [("g0", "g1"), ("g0", "g2")])},
        ),
        "utility": ProtocolOutcome({}, {"utility/utility_per_epoch.csv": utility.to_csv().encode()}),
        "reproducibility": ProtocolOutcome({}, {"reproducibility_log.json": json.dumps(repro).encode()}),
        "subsets": ProtocolOutcome({"group_accuracy": {"lung": 0.9}, "logo_accuracy": {"lung": 0.7},
                                    "logo_baselines": {"lung": {"logistic_regression": 0.6, "oracle": 0.8}},
                                    "subset_accuracy_gap": 0.1}),
    }  # fmt: skip


def test_every_figure_is_built_and_the_page_inlines_plotly_once() -> None:
    for language in ("en", "ja"):
        figures = interactive_figures(_outcomes(), language)
        assert [key for key, _, _ in figures] == [
            "attention", "latent-tsne", "latent-pca", "lattice", "degrees", "utility", "repro", "cohorts"
        ]  # fmt: skip
        by_key = {key: figure for key, _, figure in figures}
        heatmap = by_key["attention"].data[0]
        layout = by_key["attention"].layout
        assert list(layout.xaxis.ticktext) == list(layout.yaxis.ticktext) == NAMES
        assert list(heatmap.x) == list(layout.xaxis.tickvals) == list(range(len(NAMES)))
        assert [list(cell) for cell in heatmap.customdata[0]] == [[NAMES[0], name] for name in NAMES]
        lattice = by_key["lattice"]
        edge_names = {trace.name for trace in lattice.data if trace.mode == "lines"}
        labels = {"en": ("learned, true", "learned, not in the truth", "true, not learned"),
                  "ja": ("学習済み・正しい辺", "学習済み・真の構造にない辺", "真の辺・未学習")}[language]  # fmt: skip
        assert edge_names == set(labels)
        nodes = {trace.name: list(trace.text) for trace in lattice.data if trace.mode == "markers+text"}
        read = {"en": "read by the prediction", "ja": "予測が読む特徴量"}[language]
        assert nodes[read] == ["g0", "g1", "g2"]
        page = render_html("# summary\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "t", figures, language)
        assert page.count("plotly.js v") == 1 and "<script src" not in page
        assert all(f'id="plot-{key}"' in page for key, _, _ in figures)
        assert f"<html lang='{language}'>" in page and "<table>" in page
