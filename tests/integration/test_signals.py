"""SIGTERM, really sent to `causal-lattice run` on the local ZenML + MLflow stack while the main training runs:
the training checkpoints at the end of its epoch and stops, no later step does its work, nothing stays
`running` in ZenML or MLflow, one clear line and exit code 143; then the same command runs to completion, its
main training resuming from that checkpoint. Once with every step in the run's process, once with two steps at
a time in worker processes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrators.local_parallel.flavor import LOCAL_PARALLEL_SETTINGS_KEY
from tests.integration.zenml_env import CAUSAL_LATTICE, LOCAL_STACK, TINY_CONFIG, isolated_env

pytestmark = pytest.mark.integration

STATE_QUERY = """
import json, sys
from mlflow import MlflowClient
from zenml.client import Client
runs = Client().list_pipeline_runs(sort_by="asc:created", size=10).items
uri = sys.argv[1]
client = MlflowClient(tracking_uri=uri)
experiment = client.get_experiment_by_name("causal-lattice")
mlflow_runs = client.search_runs([experiment.experiment_id], max_results=500) if experiment else []
print(json.dumps({
    "runs": [{"name": r.name, "status": str(r.status),
              "steps": {name: str(step.status) for name, step in r.steps.items()}} for r in runs],
    "mlflow": [[r.info.run_name, r.info.status, r.data.tags.get("zenml_run", r.info.run_name)] for r in mlflow_runs],
}))
"""


def _env(workdir: Path) -> dict[str, str]:
    return isolated_env(
        workdir, ZENML_CONFIG_PATH=str(workdir / ".state" / "zenml"), ZENML_LOGGING_COLORS_DISABLED="true"
    )


def _state(workdir: Path) -> dict[str, Any]:
    script = workdir / "state_query.py"
    script.write_text(STATE_QUERY)
    uri = f"sqlite:///{workdir / '.state' / 'mlflow.db'}"
    result = subprocess.run([sys.executable, str(script), uri], cwd=workdir, env=_env(workdir),
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=[1, 2], ids=["one_step_at_a_time", "two_steps_at_a_time"])
def stopped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """With two steps at a time (`local_parallel`), SIGTERM reaches the run's process, which passes it on to
    the steps running in worker processes."""
    workdir = tmp_path_factory.mktemp("sigterm")
    document = yaml.safe_load(TINY_CONFIG.read_text())
    document["parameters"]["experiment"]["evaluation"].update(repro_seeds=[42], subsets=["lung"])
    document["settings"] = {LOCAL_PARALLEL_SETTINGS_KEY: {"processes": request.param}}
    config = workdir / "run.yaml"
    config.write_text(yaml.safe_dump(document))
    setup = subprocess.run(
        LOCAL_STACK, cwd=workdir, env=_env(workdir), capture_output=True, text=True, timeout=600
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    log = workdir / "run.log"
    with log.open("w") as output:
        process = subprocess.Popen([CAUSAL_LATTICE, "run", "-c", str(config)], cwd=workdir, env=_env(workdir),
                                   stdout=output, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 600
        # Wait until the main training has started its work, then send what Kubernetes sends on eviction.
        while "training view=main" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=900)
    after_stop = _state(workdir)
    rerun = subprocess.run([CAUSAL_LATTICE, "run", "-c", str(config)], cwd=workdir, env=_env(workdir),
                           capture_output=True, text=True, timeout=900)  # fmt: skip
    return {
        "processes": request.param,
        "code": code,
        "log": log.read_text(),
        "after_stop": after_stop,
        "rerun": rerun,
        "final": _state(workdir),
    }


def test_sigterm_ends_the_run_with_one_clear_line_and_exit_143(stopped) -> None:
    assert stopped["code"] == 128 + signal.SIGTERM, stopped["log"][-5000:]
    errors = [line for line in stopped["log"].splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "stopped: SIGTERM received" in errors[0], errors
    assert "run the same command again" in errors[0]
    assert "Traceback" not in stopped["log"]


def test_the_running_training_checkpointed_and_no_later_step_did_its_work(stopped) -> None:
    (run,) = stopped["after_stop"]["runs"]
    assert run["status"] == "stopped", run
    received = re.search(r"\[(\w+)\] SIGTERM received", stopped["log"])
    assert received, stopped["log"][-3000:]
    training = received.group(
        1
    )  # the first training that logged `training view=main` (train or a repro seed)
    assert f"[{training}] checkpoint after epoch 1" in stopped["log"]  # epoch 1 of 2: not a periodic one
    assert f"training {training} stopped after epoch 1, its checkpoint saved" in stopped["log"]
    assert run["steps"][training] == "stopped" and run["steps"]["load_data"] == "completed"
    statuses = run["steps"].values()
    assert "running" not in statuses and "failed" not in statuses, run["steps"]
    # one at a time: the training; two at a time: it and the step beside it (stopped too, or completed)
    assert 1 <= list(statuses).count("stopped") <= stopped["processes"], run["steps"]
    assert len(run["steps"]) < 12  # the pipeline has more steps: the rest never started


def test_no_mlflow_run_is_left_running(stopped) -> None:
    runs = stopped["after_stop"]["mlflow"]
    assert runs, "the stopped run logged nothing to MLflow"
    assert all(status in ("FINISHED", "KILLED") for _, status, _ in runs), runs
    assert any(status == "KILLED" for _, status, _ in runs), runs


def test_the_same_command_then_completes_a_new_run(stopped) -> None:
    rerun = stopped["rerun"]
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-5000:]
    assert "resumed from the checkpoint taken after epoch 1" in rerun.stdout + rerun.stderr
    first, second = stopped["final"]["runs"]
    assert first["status"] == "stopped" and second["status"] == "completed"
    assert set(second["steps"].values()) == {"completed"}
    assert all(status != "RUNNING" for _, status, _ in stopped["final"]["mlflow"])
