"""The embedded default: `python -m tools local-stack` without MLFLOW_TRACKING_URI (SQLite in the state
folder), idempotent, and one real pipeline run logging and registering into it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from registry import CHALLENGER, MLFLOW_EXPERIMENT, MODEL_NAME
from tests.integration.zenml_env import CAUSAL_LATTICE, LOCAL_STACK
from tools.local_stack import ORCHESTRATOR_NAME, REGISTRY_NAME, STACK_NAME, TRACKER_NAME

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "tests" / "data" / "tiny_config.yaml"

STACK_QUERY = """
import json
from zenml.client import Client
client = Client()
stack = client.active_stack_model
print(json.dumps({
    "active": stack.name,
    "stacks": sorted(s.name for s in client.list_stacks(size=50).items),
    "components": {str(t.value): [c.name for c in cs] for t, cs in stack.components.items()},
    "tracker": client.get_stack_component("experiment_tracker", "causal-lattice-mlflow").configuration,
    "trackers": len(client.list_stack_components(type="experiment_tracker").items),
}))
"""


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_"))}
    env.update(
        ZENML_CONFIG_PATH=str(workdir / ".state" / "zenml"),
        ZENML_ANALYTICS_OPT_IN="false",
        ZENML_LOGGING_COLORS_DISABLED="true",
        PYTHONPATH=str(REPO),
    )
    return env


def _run(argv: list[str], workdir: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=workdir, env=_env(workdir), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    workdir = tmp_path_factory.mktemp("mlflow-embedded")
    first, second = _run(LOCAL_STACK, workdir), _run(LOCAL_STACK, workdir)
    gate_before = _run([CAUSAL_LATTICE, "gate"], workdir)
    document = yaml.safe_load(TINY_CONFIG.read_text())
    document["parameters"]["experiment"]["evaluation"].update(repro_seeds=[42], subsets=["lung"])
    config = workdir / "run.yaml"
    config.write_text(yaml.safe_dump(document))
    zenml = str(Path(sys.executable).with_name("zenml"))
    pipeline = _run(
        [
            zenml,
            "pipeline",
            "run",
            "pipelines.causal_experiment.causal_experiment_pipeline",
            "-c",
            str(config),
        ],
        workdir,
    )
    gate_after = _run([CAUSAL_LATTICE, "gate"], workdir)
    query = workdir / "query.py"
    query.write_text(STACK_QUERY)
    stack = _run([sys.executable, str(query)], workdir)
    return {"workdir": workdir, "setup": (first, second), "gate_before": gate_before, "pipeline": pipeline,
            "gate_after": gate_after, "stack": stack}  # fmt: skip


def test_setup_is_idempotent_and_activates_the_stack(embedded) -> None:
    workdir: Path = embedded["workdir"]  # type: ignore[assignment]
    for result in embedded["setup"]:  # type: ignore[attr-defined]
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"sqlite:///{workdir.resolve()}/.state/mlflow.db" in result.stdout
    stack = embedded["stack"]
    assert stack.returncode == 0, stack.stderr[-3000:]  # type: ignore[attr-defined]
    state = json.loads(stack.stdout.strip().splitlines()[-1])  # type: ignore[attr-defined]
    assert state["active"] == STACK_NAME
    assert state["stacks"] == sorted(["default", STACK_NAME])
    assert state["trackers"] == 1
    assert state["components"]["experiment_tracker"] == [TRACKER_NAME]
    assert state["components"]["model_registry"] == [REGISTRY_NAME]
    assert state["components"]["orchestrator"] == [ORCHESTRATOR_NAME]
    assert state["components"]["artifact_store"] == ["default"]
    assert state["tracker"]["tracking_uri"] == f"sqlite:///{workdir.resolve()}/.state/mlflow.db"


def test_gate_without_a_challenger_is_an_error_not_a_pass(embedded) -> None:
    result = embedded["gate_before"]
    assert result.returncode == 2, result.stdout + result.stderr  # type: ignore[attr-defined]
    assert f"alias {CHALLENGER!r}" in result.stderr  # type: ignore[attr-defined]


def test_pipeline_logs_and_registers_into_the_state_folder(embedded) -> None:
    from mlflow import MlflowClient

    workdir: Path = embedded["workdir"]  # type: ignore[assignment]
    pipeline = embedded["pipeline"]
    assert pipeline.returncode == 0, (pipeline.stdout + pipeline.stderr)[-6000:]  # type: ignore[attr-defined]
    uri = f"sqlite:///{workdir.resolve()}/.state/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
    assert experiment is not None
    assert experiment.artifact_location == (workdir / ".state" / "mlartifacts").resolve().as_uri()
    version = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    assert str(version.version) == "1"
    # The version explains itself: its description is the run's model card, then the decision.
    card = (workdir / "results" / "latest" / "reports" / "model_card.md").read_text()
    assert version.description.startswith(card.rstrip())
    for text in ("# Model card", "fingerprint `", "configuration profile: **tiny-test**", "seed reference",
                 "| seed_accuracy_std |", "## What the prediction reads", "edges between features",
                 "against the true DAG: SHD", "## Promotion", "**not promoted**"):  # fmt: skip
        assert text in version.description, text
    assert any((workdir / ".state" / "mlartifacts").rglob("heatmap.png"))
    assert any((workdir / ".state" / "mlartifacts").rglob("model.safetensors"))
    assert not (workdir / "mlruns").exists()
    # The quick gates (zenml_config.yaml defaults) fail on a 2-epoch model: the CI gate says so.
    gate = embedded["gate_after"]
    assert gate.returncode == 1, gate.stdout + gate.stderr  # type: ignore[attr-defined]
    assert "failing gates:" in gate.stderr  # type: ignore[attr-defined]
