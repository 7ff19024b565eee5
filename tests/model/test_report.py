"""The run summary: measured values, the one gate table, the same numbers and verdicts in English and Japanese."""

from __future__ import annotations

import re

import pytest

from model.config import ExperimentConfig
from model.gates.decision import decide_promotion, promotion_table
from model.gates.promotion import evaluate_promotion_gates, gate_table
from model.report.summary import PROMOTION_FILE, DataFacts, render_summary, summary_files

DATA = DataFacts(name="synthetic", rows=10, features=3, fingerprint="abc")

METRICS = {
    "attention": {
        "kl_causal": 0.4,
        "kl_causal_mask_floor": 0.1,
        "kl_causal_above_floor": 0.3,
        "attention_diagonal_mean": 0.1,
        "n_features": 3,
    },
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
        "routed_accuracy": 0.9,
        "dense_accuracy": 0.9,
        "utility_per_block": [1.0, 0.4],
        "utility_entropy": 0.5,
        "utility_entropy_first_epoch": 0.6,
    },
    "reproducibility": {"accuracy_std": 0.01, "same_seed_identical": True},
    "subsets": {
        "group_accuracy": {"lung": 0.9, "colon": 0.88},
        "subset_accuracy_gap": 0.02,
        "logo_accuracy_mean": 0.8,
        "logo_accuracy": {"lung": 0.8},
        "logo_baselines": {"lung": {"logistic_regression": 0.4, "oracle": 0.85}},
    },
    "main": {
        "accuracy": 0.91,
        "accuracy_head_part": 0.88,
        "accuracy_readout_part": 0.81,
        "kl_causal": 0.4,
        "laplacian": 1.5,
        "utility_entropy": 0.5,
        "auroc": 0.95,
    },
}
GATE_INPUTS = {
    "accuracy_std": 0.01,
    "subset_accuracy_gap": 0.02,
    "flops_reduction": 0.3,
    "routed_accuracy": 0.9,
    "dense_accuracy": 0.9,
}


def test_summary_shows_configured_metrics_the_gate_table_and_links_promotion() -> None:
    config = ExperimentConfig()
    gates = evaluate_promotion_gates(GATE_INPUTS, config.gates)
    figures = ["latent/z_pca.png", "visuals/attention/heatmap.png"]
    markdown = render_summary("run-1", config, METRICS, gates, figures, DATA)
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


def _cells(markdown: str, first: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in markdown.splitlines()
        if line.startswith(f"| {first}")
    ]


def test_japanese_summary_has_the_seeds_headings_and_the_same_numbers_and_verdicts() -> None:
    config = ExperimentConfig()
    gates = evaluate_promotion_gates({**GATE_INPUTS, "accuracy_std": 0.02}, config.gates)  # one gate fails
    metrics = {**METRICS, "reproducibility": {"accuracy_std": 0.02, "same_seed_identical": True}}
    english = render_summary("run-1", config, metrics, gates, [], DATA, "en")
    japanese = render_summary("run-1", config, metrics, gates, [], DATA, "ja")
    assert "| 実験名 | 主観的観察 | 定量結果 | 考察 |" in japanese
    assert "| experiment | observation | measured | interpretation |" in english
    for term in (
        "結果整理テンプレート",
        "KL=0.400",
        "Silhouette=0.600",
        "DegreeVar=0.200",
        "FLOPS削減=30.0%",
    ):
        assert term in japanese, term
    assert "FLOPs reduction=30.0%" in english
    # The same rows, the same numbers in every cell, in the same order.
    rows = {language: _cells(text, "Exp-") + _cells(text, "VI.3") for language, text in
            (("en", english), ("ja", japanese))}  # fmt: skip
    assert [r[0] for r in rows["en"]] == [r[0] for r in rows["ja"]] == [
        "Exp-1", "Exp-2", "Exp-3", "Exp-4", "Exp-5", "VI.3"
    ]  # fmt: skip
    for en_row, ja_row in zip(rows["en"], rows["ja"], strict=True):
        assert re.findall(r"\d+\.\d+", en_row[2]) == re.findall(r"\d+\.\d+", ja_row[2])
    # The same gate verdicts: 3 PASS and 1 FAIL in both, gate by gate.
    verdicts = {
        language: [(cells[0], "PASS" in cells[3]) for cells in _cells(text, "seed_") + _cells(text, "subset_")
                   + _cells(text, "flops_") + _cells(text, "routed_")]
        for language, text in (("en", english), ("ja", japanese))
    }  # fmt: skip
    assert verdicts["en"] == verdicts["ja"] == [(g.name, g.passed) for g in gates]
    assert [g.passed for g in gates].count(False) == 1
    assert "FAIL（不合格）" in japanese and "**適用される全ゲート合格: いいえ**" in japanese
    assert "**All applicable gates passed: no**" in english
    # Exp-5 fails its σ < 1.5 % criterion: both say so in their own words.
    assert "モデル安定性は未保証" in japanese and "model stability not assured" in english


def test_interpretation_follows_the_numbers() -> None:
    config = ExperimentConfig()
    gates = evaluate_promotion_gates(GATE_INPUTS, config.gates)
    good = {
        **METRICS,
        "attention": {**METRICS["attention"], "kl_causal": 0.01, "attention_diagonal_mean": 0.9},
    }
    text = render_summary("run-1", config, good, gates, [], DATA, "ja")
    assert "Attentionが局所集中" in text and "因果距離反映が成功" in text
    text = render_summary("run-1", config, METRICS, gates, [], DATA, "ja")
    assert "Attentionが分散" in text and "因果距離の反映は seed より弱い" in text
    assert "自律最適化成立" in text and "因果構造の汎化性良好" in text and "再現性良好" in text


def test_a_kl_at_the_mask_floor_reads_as_following_the_prior() -> None:
    """KL above the seed's reference, all but 0.01 of it the floor the lattice mask sets: attention follows the
    prior where it may attend, and the report says which part is which."""
    config = ExperimentConfig()
    gates = evaluate_promotion_gates(GATE_INPUTS, config.gates)
    at_floor = {
        **METRICS,
        "attention": {
            **METRICS["attention"],
            "kl_causal": 0.31,
            "kl_causal_mask_floor": 0.30,
            "kl_causal_above_floor": 0.01,
        },
    }
    text = render_summary("run-1", config, at_floor, gates, [], DATA, "en")
    assert "KL=0.310 (seed ref 0.021): 0.300 is the floor the lattice mask sets" in text
    assert (
        "attention follows the causal prior wherever the mask lets it attend (KL above the mask's floor 0.010"
        in text
    )
    assert "下限を超える KL 0.010" in render_summary("run-1", config, at_floor, gates, [], DATA, "ja")


@pytest.mark.parametrize(
    ("ceiling", "verdict"),
    [
        (
            {"lung": 0.93, "colon": 0.89, "breast": 0.84},
            "cannot tell generalisation from how hard each cohort's test rows are",
        ),
        ({"lung": 0.90, "colon": 0.89, "breast": 0.88}, "generalisation across cohorts not shown"),
    ],
)
def test_a_cohort_gap_stands_beside_the_causal_ceilings_gap_on_the_same_rows(
    ceiling: dict[str, float], verdict: str
) -> None:
    """Over the gate: the report says whether a reader of the true causes is as far apart on the same rows."""
    config = ExperimentConfig()
    spread = max(ceiling.values()) - min(ceiling.values())
    subsets = {
        **METRICS["subsets"],
        "group_accuracy": {"lung": 0.9, "colon": 0.85, "breast": 0.8},
        "subset_accuracy_gap": 0.1,
        "group_ceiling_accuracy": ceiling,
        "ceiling_accuracy_gap": spread,
    }
    gates = evaluate_promotion_gates({**GATE_INPUTS, "subset_accuracy_gap": 0.1}, config.gates)
    text = render_summary("run-1", config, {**METRICS, "subsets": subsets}, gates, [], DATA, "en")
    row = next(line for line in text.splitlines() if line.startswith("| VI.3"))
    assert f"on the label's true parents): lung {ceiling['lung']:.3f}" in row and f"gap {spread:.3f}" in row
    assert verdict in row
    assert "| subset_accuracy_gap | 0.1000 | < 0.05 | FAIL |" in text  # the gate itself is unchanged


def test_the_summary_states_what_the_head_and_the_readout_each_carry() -> None:
    config = ExperimentConfig()
    gates = evaluate_promotion_gates(GATE_INPUTS, config.gates)
    text = render_summary("run-1", config, METRICS, gates, [], DATA, "en")
    assert (
        "the head on z alone 0.880, the linear readout of the readable features alone 0.810, both 0.910"
        in text
    )
    assert "z からのヘッドのみ 0.880" in render_summary("run-1", config, METRICS, gates, [], DATA, "ja")


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("en", {"en": ("summary.md", "summary.html")}),
        ("ja", {"ja": ("summary.md", "summary.html")}),
        ("both", {"en": ("summary.md", "summary.html"), "ja": ("summary.ja.md", "summary.ja.html")}),
    ],
)
def test_summary_files_per_language_setting(setting: str, expected: dict) -> None:
    assert summary_files(setting) == expected
