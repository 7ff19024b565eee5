"""The MLflow server scenario (test_mlflow_server.py) as module fixtures: started only where a test asks for it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from orchestrators.local_parallel.flavor import LOCAL_PARALLEL_SETTINGS_KEY
from tests.integration.hostile_names import HostileRun, write_hostile_table
from tests.integration.mlflow_scenario import (
    FAILING_GATES,
    PASSING_GATES,
    PIPELINE,
    REPO,
    MlflowServer,
    Scenario,
    free_port,
    registry_state,
    run,
    write_config,
)
from tests.integration.zenml_env import (
    CAUSAL_LATTICE,
    LOCAL_STACK,
    TINY_CONFIG,
    isolated_env,
    run_pipeline,
    start_pipeline,
)


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list[str]]:
    """Two runs of the tiny config started at the same moment in one working directory, on a fresh local stack
    (`make run`'s: ZenML store, MLflow on SQLite): both must finish, each in its own results folder (the
    pipeline and report tests share them). The first runs two steps at a time in worker processes
    (`local_parallel`, `processes: 2`, as `make run` does), the second one step at a time in its own process.
    The working directory, the two run folders (by name) and the two runs' outputs (first, second)."""
    workdir = tmp_path_factory.mktemp("pipeline")
    document = yaml.safe_load(TINY_CONFIG.read_text())
    document["settings"] = {LOCAL_PARALLEL_SETTINGS_KEY: {"processes": 2}}
    side_by_side = workdir / "side_by_side.yaml"
    side_by_side.write_text(yaml.safe_dump(document, sort_keys=False))
    setup = subprocess.run(LOCAL_STACK, cwd=workdir, env=isolated_env(workdir), capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
    logs = [workdir / f"run-{index}.log" for index in range(2)]
    processes = [
        start_pipeline(workdir, log, config)
        for log, config in zip(logs, [side_by_side, TINY_CONFIG], strict=True)
    ]
    outputs = []
    for process, log in zip(processes, logs, strict=True):
        returncode = process.wait(timeout=1800)
        outputs.append(log.read_text())
        assert returncode == 0, outputs[-1][-8000:]
    runs = sorted(p for p in (workdir / "results").iterdir() if p.is_dir() and not p.is_symlink())
    return workdir, runs, outputs


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(root=tmp_path_factory.mktemp("mlflow-server"), port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def scenario(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    workdir = tmp_path_factory.mktemp("mlflow-pipeline")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_"))}
    env.update(
        ZENML_CONFIG_PATH=str(workdir / "zenml"),
        ZENML_ANALYTICS_OPT_IN="false",
        ZENML_LOGGING_COLORS_DISABLED="true",
        MLFLOW_TRACKING_URI=mlflow_server.uri,
        PYTHONPATH=str(REPO),
    )
    scenario = Scenario(workdir=workdir, server=mlflow_server, env=env)
    failing = write_config(workdir, "failing_gates", FAILING_GATES)
    passing = write_config(workdir, "passing_gates", PASSING_GATES)
    zenml = str(Path(sys.executable).with_name("zenml"))

    def pipeline(name: str, config: Path) -> None:
        started = time.monotonic()
        scenario.runs[name] = run([zenml, "pipeline", "run", PIPELINE, "-c", str(config)], scenario)
        scenario.seconds[name] = time.monotonic() - started

    setup = run(LOCAL_STACK, scenario)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
    scenario.runs["setup"] = setup
    pipeline("failing", failing)
    scenario.gates["failing"] = run([CAUSAL_LATTICE, "gate"], scenario)
    scenario.registry_after["failing"] = registry_state(mlflow_server.uri)
    pipeline("passing", passing)
    scenario.gates["passing"] = run([CAUSAL_LATTICE, "gate"], scenario)
    scenario.registry_after["passing"] = registry_state(mlflow_server.uri)
    mlflow_server.stop()
    pipeline("unreachable", passing)
    mlflow_server.start()
    pipeline("rerun", passing)
    scenario.registry_after["rerun"] = registry_state(mlflow_server.uri)
    return scenario


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    """One tiny run, on the local MLflow stack, of a table whose names are script-bearing: see `hostile_names`."""
    workdir = tmp_path_factory.mktemp("hostile")
    config = write_hostile_table(workdir)
    env = isolated_env(workdir)
    setup = subprocess.run(LOCAL_STACK, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
    result = run_pipeline(workdir, config)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    runs = [p for p in (workdir / "results").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, runs
    return HostileRun(
        workdir=workdir, folder=runs[0], tracking_uri=f"sqlite:///{workdir / '.state' / 'mlflow.db'}"
    )
