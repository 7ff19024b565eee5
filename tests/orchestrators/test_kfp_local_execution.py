"""The compiled tasks, run as local processes in DAG order, complete a real ZenML run (SPEC section 6).

Compiles the pipeline under test with the tiny configuration into a fresh ZenML store, then runs every task's
container command + args from the YAML (`orchestrators.kubeflow_gpu.local_run`) against that store. This is
slow (one Python process per step invocation), hence `integration`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrators.kubeflow_gpu.pipeline_ir import read_pipeline
from tests.orchestrators.kfp_testlib import PIPELINE_UNDER_TEST, compile_under_test, run_module

pytestmark = pytest.mark.integration


def test_compiled_tasks_complete_a_zenml_run(tmp_path: Path) -> None:
    compiled = compile_under_test(tmp_path, PIPELINE_UNDER_TEST.tiny_config, cron=None)
    tasks = set(read_pipeline(compiled.yaml).tasks)
    summary_file = tmp_path / "summary.json"
    proc = run_module(
        "orchestrators.kubeflow_gpu.local_run",
        [
            str(compiled.yaml),
            "--source-root", str(PIPELINE_UNDER_TEST.source_root),
            "--workdir", str(tmp_path / "work"),
            "--run-id", "local-kfp-run-0001",
            "--check-zenml",
            "--json-out", str(summary_file),
        ],
        compiled.env,
        timeout=3600,
    )  # fmt: skip
    assert summary_file.exists(), f"local_run failed to start:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    summary = json.loads(summary_file.read_text())
    failed = {name: t for name, t in summary["tasks"].items() if t["status"] != "completed"}
    logs = {name: Path(t["log"]).read_text()[-3000:] for name, t in failed.items() if t.get("log")}
    assert proc.returncode == 0 and not failed, f"tasks not completed: {failed}\n{logs}"
    assert set(summary["order"]) == tasks

    runs = summary["zenml"]["runs"]
    assert len(runs) == 1, runs  # all steps joined the one run of this KFP run id
    assert runs[0]["status"] == "completed"
    assert set(runs[0]["steps"]) == tasks
    assert set(runs[0]["steps"].values()) == {"completed"}
