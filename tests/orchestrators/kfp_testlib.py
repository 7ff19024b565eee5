"""Helpers for the `kubeflow_gpu` orchestrator tests.

Every ZenML operation runs in a subprocess with its own `ZENML_CONFIG_PATH` (a tmp dir), set before ZenML
is imported there: the tests never touch the developer's ZenML store, and no ZenML state leaks into pytest.

The pipeline under test is one value, `PIPELINE_UNDER_TEST`. For development against another pipeline (e.g. a
scratch one of the same shape) set `KFP_TEST_PIPELINE=module:attr`, `KFP_TEST_SOURCE_ROOT`, `KFP_TEST_CONFIG`
and `KFP_TEST_TINY_CONFIG`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.example.com/causal-lattice:kfp-test"
CRON = "0 3 * * *"
# The compile also writes the trainings' Kubeflow Trainer jobs (`--train-job`): on this many pods, for this run.
TRAIN_JOB_NODES = 3
TRAIN_JOB_RUN_ID = "0b1c5e4e-2d6f-4c1e-9a51-6c8f0a3e7d21"


@dataclass(frozen=True)
class PipelineUnderTest:
    """Which pipeline the compile/execution tests use, and with which run configurations."""

    reference: str  # module:attribute
    source_root: Path
    config: Path  # production settings (GPU pod settings per invocation): structure tests
    tiny_config: Path  # quick settings: local execution test

    @property
    def module_file(self) -> Path:
        return self.source_root / (self.reference.split(":")[0].replace(".", "/") + ".py")


PIPELINE_UNDER_TEST = PipelineUnderTest(
    reference=os.environ.get("KFP_TEST_PIPELINE", "pipelines.causal_experiment:causal_experiment_pipeline"),
    source_root=Path(os.environ.get("KFP_TEST_SOURCE_ROOT", REPO_ROOT)),
    config=Path(os.environ.get("KFP_TEST_CONFIG", REPO_ROOT / "zenml_config.yaml")),
    tiny_config=Path(os.environ.get("KFP_TEST_TINY_CONFIG", REPO_ROOT / "tests/data/tiny_config.yaml")),
)


def zenml_env(config_dir: Path) -> dict[str, str]:
    """Environment for a subprocess with an isolated ZenML store in `config_dir`."""
    env = dict(os.environ)
    env.update(
        ZENML_CONFIG_PATH=str(config_dir),
        ZENML_ANALYTICS_OPT_IN="false",
        ZENML_LOGGING_COLORS_DISABLED="true",
        PYTHONPATH=os.pathsep.join(
            [str(PIPELINE_UNDER_TEST.source_root), str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        ),
    )
    return env


CAUSAL_LATTICE = str(Path(sys.executable).with_name("causal-lattice"))  # the console script


def run_command(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """`argv` from the repository root; output captured."""
    return subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def run_module(
    module: str, args: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """`python -m module args` from the repository root; output captured."""
    return run_command([sys.executable, "-m", module, *args], env, timeout)


def require_pipeline(config: Path) -> None:
    """Skips when the pipeline under test or its configuration does not exist yet."""
    if not PIPELINE_UNDER_TEST.module_file.is_file():
        pytest.skip(f"pipeline module {PIPELINE_UNDER_TEST.module_file} does not exist yet")
    if not config.is_file():
        pytest.skip(f"run configuration {config} does not exist yet")


@dataclass
class Compiled:
    """Output of one `causal-lattice compile` run, with ZenML's own DAG of it (`python -m tools zenml-dag`)."""

    yaml: Path
    dag: dict[str, Any]
    zenml_config: Path
    env: dict[str, str]
    schedule_spec: Path | None
    train_jobs: Path


def compile_under_test(workdir: Path, config: Path, cron: str | None) -> Compiled:
    """Compiles the pipeline under test in a fresh ZenML store below `workdir`."""
    require_pipeline(config)
    zenml_dir = workdir / "zenml"
    zenml_dir.mkdir(parents=True, exist_ok=True)
    env = zenml_env(zenml_dir)
    out = workdir / "build" / "pipeline.yaml"
    dag = workdir / "build" / "dag.json"
    train_jobs = workdir / "build" / "trainjobs.yaml"
    args = [
        "--config", str(config),
        "--output", str(out),
        "--pipeline", PIPELINE_UNDER_TEST.reference,
        "--source-root", str(PIPELINE_UNDER_TEST.source_root),
        "--image", IMAGE,
        "--train-job", str(train_jobs),
        "--train-job-nodes", str(TRAIN_JOB_NODES),
        "--train-job-run-id", TRAIN_JOB_RUN_ID,
    ]  # fmt: skip
    if cron:
        args += ["--schedule-cron", cron, "--schedule-name", "nightly-retrain"]
    proc = run_command([CAUSAL_LATTICE, "compile", *args], env, timeout=600)
    assert proc.returncode == 0, f"compile failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert proc.stdout.strip().splitlines()[-1] == str(out.resolve())
    proc = run_module("tools", ["zenml-dag", str(out), "--out", str(dag)], env, timeout=300)
    assert proc.returncode == 0, f"zenml-dag failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    spec = out.with_name("pipeline.schedule.json")
    return Compiled(
        out, json.loads(dag.read_text()), zenml_dir, env, spec if spec.exists() else None, train_jobs
    )
