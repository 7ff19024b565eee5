"""MLflow logging helpers that need no MLflow server: flattening, metric selection, no-ops without a run."""

from __future__ import annotations

from pathlib import Path

from model.artifacts import EpochRecord
from model.config import ExperimentConfig
from model.run_config import read_run_config
from registry.stack import MlflowTarget, resolve_tracking_uri, target_step_options
from registry.tracking import StepIdentity, config_params, flatten, history_metrics, log_step, numeric_metrics


def test_config_params_are_the_whole_config_with_dotted_keys() -> None:
    params = config_params(ExperimentConfig().model_dump(mode="json"))
    assert params["train.lambdas.causal"] == "0.5"
    assert params["data.kind"] == "synthetic"
    assert params["evaluation.repro_seeds"] == "[42, 43, 44, 45, 46]"
    assert params["gates.min_flops_reduction"] == "0.27"
    assert params["results_dir"] == "results"
    leaves = flatten(ExperimentConfig().model_dump(mode="json"))
    assert set(params) == set(leaves)


def test_numeric_metrics_keep_finite_numbers_and_booleans() -> None:
    metrics = numeric_metrics({"a": 1, "b": float("nan"), "c": "text", "d": True, "e": {"f": 2.5}, "g": [1]})
    assert metrics == {"a": 1.0, "d": 1.0, "e.f": 2.5}


def test_history_metrics_cover_every_loss_term_accuracy_entropy_and_gradient_norms() -> None:
    history = [
        EpochRecord(
            epoch=e,
            loss={"total": 1.0 / e, "ce": 0.5, "kl": 0.1},
            train_accuracy=0.5 + e / 10,
            utility_per_block=[0.9, 0.4],
            utility_entropy=0.6,
            grad_norms={"head.weight": 0.2, "blocks.0.attn.q": 0.3},
            seconds=0.1,
        )
        for e in (1, 2)
    ]
    points = history_metrics(history)
    keys = {key for key, _, _ in points}
    assert {
        "loss/total",
        "loss/ce",
        "loss/kl",
        "train_accuracy",
        "utility_entropy",
        "utility/block_0",
        "utility/block_1",
        "grad_norm/head.weight",
        "grad_norm/blocks.0.attn.q",
        "grad_norm/max",
    } <= keys
    assert ("loss/total", 0.5, 2) in points
    assert len(points) == 2 * len(keys)


def test_log_step_is_a_no_op_without_an_active_run() -> None:
    identity = StepIdentity(pipeline="p", run_name="r", run_id="1", step="train")
    assert log_step(identity, metrics={"a": 1.0}, files={"x.txt": b"x"}) is None


def test_tracking_uri_precedence(tmp_path: Path) -> None:
    """One resolver: --tracking-uri, then MLFLOW_TRACKING_URI, then the config's extra.mlflow.tracking_uri, then
    the caller's fallback (the embedded SQLite store for the local stack, the active stack for the gate)."""
    config = tmp_path / "run.yaml"
    config.write_text("extra:\n  mlflow:\n    tracking_uri: http://config:5000\n")
    configured = read_run_config(config).mlflow_tracking_uri
    env = {"MLFLOW_TRACKING_URI": "http://env:2"}

    def fallback() -> str:
        return "sqlite:///fallback.db"

    assert resolve_tracking_uri("http://cli:1", env, configured, fallback) == "http://cli:1"
    assert resolve_tracking_uri(None, env, configured, fallback) == "http://env:2"
    assert resolve_tracking_uri(None, {}, configured, fallback) == "http://config:5000"
    assert resolve_tracking_uri(None, {}, None, fallback) == "sqlite:///fallback.db"


def test_a_target_pins_both_mlflow_variables_of_a_step() -> None:
    """The step environment is what ZenML hashes into the cache key and what the step's MLflow client reads."""
    target = MlflowTarget(tracking_uri="http://a:5000", registry_uri="http://a:5000")
    assert target_step_options(target) == {
        "environment": {"MLFLOW_TRACKING_URI": "http://a:5000", "MLFLOW_REGISTRY_URI": "http://a:5000"}
    }
    assert target_step_options(None) == {}


def test_a_shell_pointing_mlflow_elsewhere_than_the_target_is_named() -> None:
    target = MlflowTarget(tracking_uri="http://a:5000", registry_uri="http://a:5000")
    assert target.foreign_setting({}) is None
    assert (
        target.foreign_setting({"MLFLOW_TRACKING_URI": "http://a:5000/", "MLFLOW_REGISTRY_URI": ""}) is None
    )
    tracking = target.foreign_setting({"MLFLOW_TRACKING_URI": "http://b:5000"})
    assert tracking == (
        "MLFLOW_TRACKING_URI is http://b:5000 but the active ZenML stack's MLflow tracker logs to http://a:5000: "
        "point the stack at it (in a checkout `make run` does, or `python -m tools local-stack`), or unset "
        "MLFLOW_TRACKING_URI"
    )
    registry = target.foreign_setting({"MLFLOW_REGISTRY_URI": "sqlite:///other.db"})
    assert registry == (
        "MLFLOW_REGISTRY_URI is sqlite:///other.db but the model is registered where the active ZenML stack's "
        "MLflow tracker logs, http://a:5000: unset MLFLOW_REGISTRY_URI"
    )
