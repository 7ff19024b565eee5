"""The run summary: measured values, the one gate table, and a self-contained HTML page with every figure."""

from __future__ import annotations

import base64
import re

from model.config import ExperimentConfig, GateConfig
from model.plots import bar_chart
from model.promotion_gates import evaluate_promotion_gates, gate_table
from model.report import PROMOTION_FILE, render_html, render_summary
from registry.decision import decide_promotion, promotion_table

METRICS = {
    "attention": {"kl_causal": 0.4, "attention_diagonal_mean": 0.1},
    "latent": {"silhouette": 0.6},
    "lattice": {
        "degree_variance": 0.2,
        "n_edges": 3,
        "sparsity": 0.9,
        "isolated_node_share": 0.1,
        "is_dag": True,
        "readable_features": ["g1", "g2"],
        "label_parents": ["g1"],
        "label_children": ["b1"],
        "label_parent_recall": 0.5,
        "readable_true_label_children": [],
    },
    "utility": {
        "flops_reduction": 0.3,
        "gated_accuracy": 0.9,
        "dense_accuracy": 0.9,
        "utility_per_block": [1.0, 0.4],
        "utility_entropy": 0.5,
        "utility_entropy_first_epoch": 0.6,
    },
    "reproducibility": {"accuracy_std": 0.01, "same_seed_identical": True},
    "subsets": {
        "subset_accuracy_gap": 0.02,
        "logo_accuracy_mean": 0.8,
        "logo_accuracy": {"lung": 0.8},
        "logo_baselines": {"lung": {"logistic_regression": 0.4, "oracle": 0.85}},
    },
    "main": {"accuracy": 0.91, "kl_causal": 0.4, "laplacian": 1.5, "utility_entropy": 0.5, "auroc": 0.95},
}
GATE_INPUTS = {
    "accuracy_std": 0.01,
    "subset_accuracy_gap": 0.02,
    "flops_reduction": 0.3,
    "gated_accuracy": 0.9,
    "dense_accuracy": 0.9,
}


def test_summary_shows_configured_metrics_the_gate_table_and_links_promotion() -> None:
    config = ExperimentConfig()
    gates = evaluate_promotion_gates(GATE_INPUTS, config.gates)
    figures = ["latent/z_pca.png", "visuals/attention/heatmap.png"]
    markdown = render_summary("run-1", config, METRICS, gates, figures, "synthetic: 10 rows")
    headline = next(line for line in markdown.splitlines() if "evaluation.metrics" in line)
    assert [name for name in config.evaluation.metrics if name in headline] == config.evaluation.metrics
    assert "auroc" not in headline  # not in evaluation.metrics
    # One gate renderer: the summary and the promotion decision print the same table.
    table = "\n".join(gate_table(gates))
    assert table in markdown
    assert table in promotion_table(gates, "v1", 0.9, None, None, decide_promotion(gates, 0.9, None))
    assert f"]({PROMOTION_FILE})" in markdown
    assert re.findall(r"\]\(\.\./([^)]+)\)", markdown) == figures
    # What the prediction reads, and the held-out cohort beside its baselines.
    assert (
        "reads the 2 features" in markdown
        and "`g1`, `g2`" in markdown
        and "50% of the label's true parents" in markdown
    )
    assert "| lung | 0.800 | 0.400 | 0.850 |" in markdown


def test_html_is_self_contained_with_every_figure_embedded() -> None:
    figures = {
        "visuals/repro_accuracy.png": bar_chart({"seed 42": 0.9}, "accuracy", "repro"),
        "subsets/subset_accuracy.png": bar_chart({"lung": 0.8}, "accuracy", "cohorts"),
    }
    gates = evaluate_promotion_gates(GATE_INPUTS, GateConfig())
    markdown = render_summary("run-1", ExperimentConfig(), METRICS, gates, sorted(figures), "d")
    page = render_html(markdown, "causal-lattice <run-1>", figures)
    sources = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(sources) == len(figures)
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    embedded = {base64.b64decode(source.split(",", 1)[1]) for source in sources}
    assert embedded == set(figures.values())
    assert "<title>causal-lattice &lt;run-1&gt;</title>" in page
    assert "<table>" in page and "seed_accuracy_std" in page
