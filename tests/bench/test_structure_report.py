"""bench/structure_report.py's summary on small hand-made case records: issue 8's keys kept, issue 21's medians
and targets computed per label kind, and the Markdown table's new columns."""

from __future__ import annotations

from typing import Any

import pytest

from bench.structure_report import label_term, markdown_table, summarise

READERS = ("logistic_regression", "hist_gradient_boosting", "mlp")


def _case(
    name: str,
    term: str | None,
    iid: float,
    flip: float,
    ceiling: float,
    readable_lr: float | None,
    non_descendant_lr: float = 0.80,
) -> dict[str, Any]:
    """A case record with the keys bench/structure.py writes. `term` None: a record from before the label term
    existed (its `data` lacks the key). The causal ceiling and readable LR are the same i.i.d. and on flip."""
    data: dict[str, Any] = {"n_genes": 16, "seed": 1}
    if term is not None:
        data["label_nonlinearity"] = term
    readable = {"logistic_regression": readable_lr, "hist_gradient_boosting": 0.7, "mlp": 0.75}
    ceiling_record = {
        "accuracy": ceiling,
        "reader": "mlp",
        "readers": {
            "logistic_regression": ceiling - 0.05,
            "hist_gradient_boosting": ceiling - 0.02,
            "mlp": ceiling,
        },
    }
    return {
        "case": name,
        "data": data,
        "n_features": 20,
        "n_true_edges": 30,
        "edge_auroc": 0.95,
        "edge_auroc_unlabeled": 0.93,
        "shd": 10,
        "is_dag": True,
        "iid_accuracy": iid,
        "iid_accuracy_head_part": iid - 0.1,
        "iid_accuracy_readout_part": iid - 0.05,
        "flip_accuracy": flip,
        "baselines_iid": {"logistic_regression": 0.9, "hist_gradient_boosting": 0.92, "mlp": 0.91},
        "baselines_flip": {"logistic_regression": 0.3, "hist_gradient_boosting": 0.4, "mlp": 0.35},
        "baselines_iid_readable": dict(readable),
        "baselines_flip_readable": dict(readable),
        "causal_ceiling_iid": dict(ceiling_record),
        "causal_ceiling_flip": dict(ceiling_record),
        "iid_non_descendant_ceiling": non_descendant_lr,
        "best_baseline_iid": 0.92,
        "structure_baselines": {
            "pc": {"shd": 12},
            "ges": {"shd": 9},
            "dagma": {"error": "stopped after 1 s"},
        },
    }


def _suite() -> list[dict[str, Any]]:
    return [
        # Nonlinear label: gaps to the ceiling 0.005, 0.02, 0.0; gains over readable LR 0.05, 0.01, 0.03.
        _case("a-xlabel-interaction", "interaction", iid=0.90, flip=0.90, ceiling=0.905, readable_lr=0.85),
        _case("b-xlabel-sine", "sine", iid=0.88, flip=0.88, ceiling=0.90, readable_lr=0.87),
        _case("c-xlabel-abs", "abs", iid=0.91, flip=0.91, ceiling=0.91, readable_lr=0.88),
        # Linear label, one from before the option (no key): flips 0.90 and 0.87, non-descendant gaps -0.01, 0.02.
        _case(
            "d-linear", "none", iid=0.90, flip=0.90, ceiling=0.91, readable_lr=0.90, non_descendant_lr=0.89
        ),
        _case("e-old", None, iid=0.85, flip=0.87, ceiling=0.86, readable_lr=0.85, non_descendant_lr=0.87),
    ]


def test_a_record_without_the_label_term_is_a_linear_label() -> None:
    cases = _suite()
    assert [label_term(c) for c in cases] == ["interaction", "sine", "abs", "none", "none"]


def test_issue21_medians_and_targets_per_label_kind() -> None:
    summary = summarise(_suite())
    issue21 = summary["issue21"]
    curved, straight = issue21["nonlinear_label"], issue21["linear_label"]
    assert curved["cases"] == ["a-xlabel-interaction", "b-xlabel-sine", "c-xlabel-abs"]
    assert straight["cases"] == ["d-linear", "e-old"]
    assert curved["median_iid_gap_to_causal_ceiling"] == pytest.approx(0.005)
    assert curved["median_flip_gap_to_causal_ceiling"] == pytest.approx(0.005)
    assert curved["median_iid_gain_over_readable_lr"] == pytest.approx(0.03)
    assert curved["median_flip_gain_over_readable_lr"] == pytest.approx(0.03)
    assert curved["median_iid_accuracy_head_part"] == pytest.approx(0.80)
    assert curved["median_iid_accuracy_readout_part"] == pytest.approx(0.85)
    assert straight["median_flip_accuracy"] == pytest.approx(0.885)
    assert straight["median_iid_gap_to_non_descendant_ceiling"] == pytest.approx(0.005)
    assert issue21["targets"] == {
        "nonlinear_label_iid_within_1_point_of_causal_ceiling": True,
        "nonlinear_label_flip_within_1_point_of_causal_ceiling": True,
        "nonlinear_label_iid_2_points_above_readable_lr": True,
        "nonlinear_label_flip_2_points_above_readable_lr": True,
        "linear_label_flip_at_least_0.882": True,
        "linear_label_iid_within_1_point_of_non_descendant_ceiling": True,
    }


def test_issue21_targets_missed() -> None:
    cases = _suite()
    for c in cases[:3]:  # the nonlinear-label model reads like logistic regression on what it may read
        c["iid_accuracy"] = c["flip_accuracy"] = c["baselines_iid_readable"]["logistic_regression"]
    cases[3]["flip_accuracy"] = 0.80  # linear-label flip median (0.80 + 0.87) / 2 = 0.835
    cases[4]["iid_non_descendant_ceiling"] = 0.90  # linear-label gaps -0.01 and 0.05: median 0.02
    targets = summarise(cases)["issue21"]["targets"]
    assert targets == {
        "nonlinear_label_iid_within_1_point_of_causal_ceiling": False,
        "nonlinear_label_flip_within_1_point_of_causal_ceiling": False,
        "nonlinear_label_iid_2_points_above_readable_lr": False,
        "nonlinear_label_flip_2_points_above_readable_lr": False,
        "linear_label_flip_at_least_0.882": False,
        "linear_label_iid_within_1_point_of_non_descendant_ceiling": False,
    }


def test_no_readable_feature_is_no_gain_and_no_scm_of_a_kind_meets_nothing() -> None:
    cases = [c for c in _suite() if c["data"].get("label_nonlinearity", "none") != "none"]
    cases[0]["baselines_iid_readable"] = dict.fromkeys(READERS)
    summary = summarise(cases)
    assert cases[0]["iid_gain_over_readable_lr"] is None
    # Median over the two SCMs with a gain: 0.01 and 0.03.
    assert summary["issue21"]["nonlinear_label"]["median_iid_gain_over_readable_lr"] == pytest.approx(0.02)
    assert summary["issue21"]["targets"]["linear_label_flip_at_least_0.882"] is None


def test_issue8_keys_kept_with_the_causal_ceiling_as_the_oracle() -> None:
    cases = _suite()
    summary = summarise(cases)
    for key in (
        "median_edge_auroc",
        "median_edge_auroc_unlabeled",
        "median_shd",
        "median_flip_accuracy",
        "median_iid_accuracy",
        "median_flip_oracle_gap",
        "median_iid_gap_to_best",
        "median_iid_gap_to_non_descendant_ceiling",
        "median_best_all_feature_flip",
        "shd_beats_best_baseline_share",
    ):
        assert summary[key] is not None, key
    # Flip gaps to the ceiling: 0.005, 0.02, 0.0, 0.01, -0.01.
    assert summary["median_flip_oracle_gap"] == pytest.approx(0.005)
    assert summary["median_iid_gap_to_best"] == pytest.approx(0.92 - 0.90)
    assert summary["median_best_all_feature_flip"] == pytest.approx(0.4)
    assert summary["shd_beats_best_baseline_share"] == 0.0  # SHD 10 against GES's 9 (DAGMA timed out)
    assert len(summary["targets"]) == 9
    assert summary["targets"]["flip_within_5_points_of_oracle"] is True
    assert summary["targets"]["shd_at_or_below_best_baseline_on_two_thirds"] is False
    assert summary["targets"]["no_scm_shd_worse_than_worst_baseline"] is True


def test_without_baselines_only_the_models_medians() -> None:
    cases = _suite()
    for c in cases:
        for key in [k for k in c if k.startswith(("baselines_", "causal_ceiling_", "structure_baselines"))]:
            del c[key]
    summary = summarise(cases)
    assert "targets" not in summary and "median_flip_oracle_gap" not in summary
    assert "targets" not in summary["issue21"]
    assert summary["issue21"]["nonlinear_label"]["median_iid_accuracy"] == pytest.approx(0.90)
    assert summary["issue21"]["linear_label"]["median_flip_accuracy"] == pytest.approx(0.885)


def test_prediction_baselines_without_structure_baselines_still_give_issue21_targets() -> None:
    cases = _suite()
    for c in cases:
        del c["structure_baselines"]
    summary = summarise(cases)
    assert "targets" not in summary  # issue 8's compare SHD with the structure baselines
    assert summary["issue21"]["targets"]["nonlinear_label_iid_within_1_point_of_causal_ceiling"] is True
    assert "| 10 | – / – / – |" in markdown_table(cases)


def test_markdown_table_shows_the_new_columns() -> None:
    cases = _suite()
    summarise(cases)
    lines = markdown_table(cases).splitlines()
    header = lines[0]
    for column in ("label term", "head part / readout part", "readable LR / HGB / MLP", "causal ceiling"):
        assert column in header, column
    assert len(lines) == 2 + len(cases)
    assert all(line.count("|") == header.count("|") for line in lines)
    row = lines[2]
    assert "| interaction |" in row and "0.900 (0.800 / 0.850)" in row
    assert "0.850 / 0.700 / 0.750" in row and "0.905 (MLP)" in row and "| 12 / 9 / timeout |" in row
    assert "| none |" in lines[-1]
