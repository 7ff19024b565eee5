"""The cohort-gap benchmark (bench/cohort_gap_noise.py) on the tiny test configuration: the record has the Bayes
classifier's per-cohort accuracy on each data draw and the causal ceiling per cohort; bad input is a usage error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import cohort_gap_noise

TINY_CONFIG = Path(__file__).resolve().parents[1] / "data" / "tiny_config.yaml"


def test_the_tiny_configuration_records_the_bayes_and_ceiling_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cohort_gap_noise.json"
    assert cohort_gap_noise.main(["--config", str(TINY_CONFIG), "--data-seeds", "3", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert json.loads(out.read_text()) == printed
    draws = printed["bayes_per_data_seed"]
    assert [draw["data_seed"] for draw in draws] == [7, 0, 1]  # the configuration's own data first
    for draw in draws:
        assert set(draw["accuracy"]) == {"lung", "colon", "breast"}
        assert all(0.5 <= value <= 1.0 for value in draw["accuracy"].values())
        assert draw["gap"] == pytest.approx(max(draw["accuracy"].values()) - min(draw["accuracy"].values()))
    gaps = [draw["gap"] for draw in draws]
    assert printed["bayes_share_passing"] == pytest.approx(sum(gap < 0.05 for gap in gaps) / 3)
    assert set(printed["ceiling_config_data"]["accuracy"]) == {"lung", "colon", "breast"}


@pytest.mark.parametrize(
    ("arguments", "text", "message"),
    [
        ([], "parameters:\n  experiment:\n    data:\n      kind: breast_cancer\n", "needs synthetic data"),
        ([], "parameters:\n  experiment:\n    evaluation:\n      subsets: []\n", "names no cohorts"),
        ([], "parameters:\n  experiment:\n    data:\n      n_genes: many\n", "zenml_config.yaml"),
        (["--data-seeds", "0"], "parameters:\n  experiment: {}\n", "draw at least one data set"),
    ],
)
def test_bad_input_is_a_usage_error_before_any_work(
    arguments: list[str], text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        cohort_gap_noise.main(["--config", str(config), "--out", str(tmp_path / "r.json"), *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
