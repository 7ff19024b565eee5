from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.structure import main, reusable_structure_baselines, run_case
from bench.structure_report import markdown_table, summarise
from bench.structure_suite import ABLATIONS, SUITE, configure
from model.config import SyntheticDataConfig
from model.evaluation.baselines import BASELINES


def test_an_unknown_case_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--cases", "er20-nonlinear-3c,no-such-scm"])
    assert exited.value.code == 2 and "no-such-scm" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content", [None, "not json", json.dumps({"no": "suite"}), json.dumps({"suite": [{}]})]
)
def test_structure_baselines_from_a_file_that_is_not_a_suite_record_is_a_usage_error(
    tmp_path: Path, content: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = tmp_path / "earlier.json"
    if content is not None:
        earlier.write_text(content)
    with pytest.raises(SystemExit) as exited:
        main(["--cases", "er20-nonlinear-3c", "--structure-baselines-from", str(earlier)])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "not a readable suite record" in err and str(earlier) in err


def test_the_suite_keeps_its_linear_label_scms_and_adds_one_of_each_label_term() -> None:
    old = {name: config for name, config in SUITE.items() if config.seed <= 107}
    new = {name: config for name, config in SUITE.items() if config.seed >= 108}
    assert len(old) == 7 and all(config.label_nonlinearity == "none" for config in old.values())
    assert {config.label_nonlinearity for config in new.values()} == {"interaction", "sine", "abs"}
    for name, config in new.items():
        assert name.endswith(f"-xlabel-{config.label_nonlinearity}"), name
        assert (
            16 <= config.n_genes <= 45 and 1500 <= config.n_samples <= 3000 and 2 <= len(config.groups) <= 4
        )
    assert len({config.seed for config in SUITE.values()}) == len(SUITE)


@pytest.mark.parametrize("ablation", ["readout_only", "head_only"])
def test_the_prediction_ablations_configure_the_models_prediction(ablation: str) -> None:
    model, train = configure(ablation, 3)
    assert ablation in ABLATIONS and model.prediction == ablation and train.epochs == 3
    assert configure(None, None)[0].prediction == "head_and_readout"


def test_the_label_parents_ablation_and_a_seed_override_change_only_what_they_name() -> None:
    model, train = configure("label_parents", None, 7)
    default_model, default_train = configure(None, None)
    assert model.reads == "label_parents" and default_model.reads == "non_descendants"
    assert train.seed == 7 and default_train.seed != 7
    assert model.model_copy(update={"reads": "non_descendants"}) == default_model
    assert train.model_copy(update={"seed": default_train.seed}) == default_train


def test_structure_baselines_are_reused_only_from_a_record_on_the_same_data() -> None:
    data = SUITE["er20-nonlinear-3c"].model_dump(mode="json")
    # A record made before the label term existed: its data lacks the two keys.
    before = {k: v for k, v in data.items() if k not in ("label_nonlinearity", "label_nonlinear_strength")}
    earlier = {"data": before, "structure_baselines": {"pc": {"shd": 3}}}
    assert reusable_structure_baselines(earlier, data) == {"pc": {"shd": 3}}
    with_term = (
        SUITE["er20-nonlinear-3c"].model_copy(update={"label_nonlinearity": "sine"}).model_dump(mode="json")
    )
    assert reusable_structure_baselines(earlier, with_term) is None
    assert reusable_structure_baselines({**earlier, "data": {**before, "seed": 1}}, data) is None
    assert reusable_structure_baselines({"data": data}, data) is None
    assert reusable_structure_baselines(None, data) is None


def test_a_case_on_a_tiny_nonlinear_label_scm_records_every_key() -> None:
    """One case end to end (one epoch, prediction baselines, no PC/GES/DAGMA): about half a minute."""
    data = SyntheticDataConfig(n_samples=300, n_genes=6, n_biomarkers=2, label_nonlinearity="sine", seed=3)
    record = run_case("tiny-xlabel-sine", data, None, 1, True, 1, structure=False)
    for key in ("iid", "flip"):
        assert set(record[f"baselines_{key}"]) == set(BASELINES)
        assert set(record[f"baselines_{key}_readable"]) == set(BASELINES)
        ceiling = record[f"causal_ceiling_{key}"]
        assert ceiling["reader"] in BASELINES and ceiling["accuracy"] == max(ceiling["readers"].values())
        for part in ("head", "readout"):
            assert 0.0 <= record[f"{key}_accuracy_{part}_part"] <= 1.0
    assert "structure_baselines" not in record and record["data"]["label_nonlinearity"] == "sine"
    summary = summarise([record])
    assert summary["issue21"]["nonlinear_label"]["cases"] == ["tiny-xlabel-sine"]
    assert set(summary["issue21"]["targets"]) >= {"nonlinear_label_iid_2_points_above_readable_lr"}
    assert "tiny-xlabel-sine | sine |" in markdown_table([record])
