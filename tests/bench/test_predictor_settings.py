from __future__ import annotations

import pytest

from bench.predictor_settings import NONLINEAR_LABEL_CASES, apply_setting, main, median_gaps, run_setting
from bench.structure_suite import configure
from model.config import SyntheticDataConfig
from model.evaluation.baselines import BASELINES


def test_the_default_cases_are_the_suites_nonlinear_label_scms() -> None:
    assert len(NONLINEAR_LABEL_CASES) >= 3 and all("-xlabel-" in name for name in NONLINEAR_LABEL_CASES)


def test_base_is_the_seed_configuration_and_overrides_change_only_what_they_name() -> None:
    assert apply_setting("base") == configure(None, None, None)
    model, train = apply_setting("model.reads=label_parents+train.epochs=100+train.lambdas.geometric=0")
    seed_model, seed_train = configure(None, None, None)
    assert model == seed_model.model_copy(update={"reads": "label_parents"})
    assert train.epochs == 100 and train.lambdas.geometric == 0.0
    assert train.lambdas.causal == seed_train.lambdas.causal and train.lr == seed_train.lr


@pytest.mark.parametrize(
    ("setting", "names"),
    [
        ("dropout=0.1", "model.<field>=<value>"),
        ("model.dropout", "model.<field>=<value>"),
        ("optim.lr=1", "model.<field>=<value>"),
        ("model.no_such_field=1", "'no_such_field' is not a field of model"),
        ("train.epochs.inner=1", "'epochs' is not a section of train"),
        ("model.dropout=2", "dropout"),
        ("model.reads=everything", "reads"),
    ],
)
def test_a_bad_setting_is_a_usage_error_before_anything_trains(
    setting: str, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--settings", "base", setting])
    assert exited.value.code == 2 and names in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--cases", "no-such-scm"], "no-such-scm"),
        (["--jobs", "0"], "--jobs"),
        (["--threads", "-1"], "--threads"),
    ],
)
def test_an_unknown_case_or_a_count_below_one_is_a_usage_error(
    argv: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and names in capsys.readouterr().err


def test_one_setting_on_a_tiny_nonlinear_label_scm_records_every_key() -> None:
    data = SyntheticDataConfig(n_samples=300, n_genes=6, n_biomarkers=2, label_nonlinearity="sine", seed=3)
    run = run_setting("tiny-xlabel-sine", data, "train.epochs=5", 1)
    assert run["setting"] == "train.epochs=5" and len(run["train_accuracy_every_5_epochs"]) == 1
    assert set(run["baselines_iid_readable"]) == set(BASELINES)
    assert -1.0 <= run["iid_latent_silhouette"] <= 1.0  # Exp-2's score of z on the test rows
    # The lattice finds label parents on these rows; the readers then read exactly those.
    assert run["lattice_label_parents"] and set(run["baselines_iid_lattice_label_parents"]) == set(BASELINES)
    ceiling = run["causal_ceiling_iid"]
    assert ceiling["accuracy"] == max(ceiling["readers"].values())
    gap = round(100 * (ceiling["accuracy"] - run["iid_accuracy"]), 2)
    assert median_gaps([run]) == {"train.epochs=5": gap}
