"""The latent-silhouette benchmark (bench/latent_silhouette.py) run on the tiny test configuration: the record has
the oracle's and the model's silhouettes, and a configuration without synthetic data is a usage error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import latent_silhouette

TINY_CONFIG = Path(__file__).resolve().parents[1] / "data" / "tiny_config.yaml"


def test_the_tiny_configuration_records_oracle_and_model_silhouettes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "latent_silhouette.json"
    assert latent_silhouette.main(["--config", str(TINY_CONFIG), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert json.loads(out.read_text()) == printed
    oracle, model = printed["config"]["oracle"], printed["config"]["model"]
    assert 0.5 <= oracle["bayes_accuracy"] <= 1.0
    # Saturating the same evidence pulls each class together: the probability scores above the logit.
    assert oracle["true_probability"] > oracle["true_logit"]
    assert {"z", "model_logit", "model_probability", "accuracy", "seconds"} <= set(model)
    assert all(-1.0 <= model[key] <= 1.0 for key in ("z", "model_logit", "model_probability"))
    assert 0.0 < model["z_first_component_share"] <= 1.0
    assert "suite" not in printed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters:\n  experiment:\n    data:\n      kind: breast_cancer\n", "needs synthetic data"),
        ("parameters:\n  experiment:\n    data:\n      n_genes: many\n", "is not a run configuration"),
        ("just: text\n", "is not a run configuration"),
    ],
)
def test_a_configuration_without_synthetic_data_is_a_usage_error(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        latent_silhouette.main(["--config", str(config), "--out", str(tmp_path / "r.json")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
