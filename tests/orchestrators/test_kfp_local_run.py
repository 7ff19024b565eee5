"""`tools.kfp_local_run` executes a compiled KFP YAML in DAG order, each task in its own working directory, with
filled placeholders (plain kfp, no ZenML)."""

# No `from __future__ import annotations`: kfp reads component signatures at runtime.
import json
from pathlib import Path

import pytest
from kfp import compiler, dsl, kubernetes

from tools.kfp_ir import read_pipeline
from tools.kfp_local_run import LocalRunError, execution_order, run_compiled_pipeline

# Records what the "container" saw; fails when told to.
SCRIPT = """
import json, os, pathlib, sys
out, run_id, fail = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
order = out / "order.txt"
name = os.environ["TASK"]
with order.open("a") as f:
    f.write(name + "\\n")
(out / f"{name}.json").write_text(json.dumps({
    "run_id_arg": run_id, "KFP_RUN_ID": os.environ.get("KFP_RUN_ID"),
    "PLAIN": os.environ.get("PLAIN"), "SECRET": os.environ.get("SECRET"), "cwd": os.getcwd(),
}))
sys.exit(1 if fail == "yes" else 0)
"""


def _pipeline_file(tmp_path: Path, failing: str = "") -> Path:
    @dsl.container_component
    def record(out: str, run_id: str, fail: str) -> dsl.ContainerSpec:
        return dsl.ContainerSpec(
            image="python:3.11", command=["python", "-c", SCRIPT], args=[out, run_id, fail]
        )

    out = str(tmp_path / "out")

    @dsl.pipeline(name="local-run-test")
    def pipeline() -> None:
        tasks = {}
        for name, deps in [("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])]:
            task = record(
                out=out, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, fail="yes" if name == failing else "no"
            )
            task.set_display_name(name).set_env_variable("PLAIN", "plain").set_env_variable("TASK", name)
            kubernetes.use_secret_as_env(task, secret_name="creds", secret_key_to_env={"k": "SECRET"})
            if deps:
                task.after(*[tasks[d] for d in deps])
            tasks[name] = task

    (tmp_path / "out").mkdir()
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return path


def test_runs_in_dag_order_with_env_secrets_and_run_id(tmp_path: Path) -> None:
    path = _pipeline_file(tmp_path)
    assert execution_order(read_pipeline(path)) == ["a", "b", "c", "d"]
    result = run_compiled_pipeline(
        path, run_id="run-123", secrets={"creds": {"k": "s3cr3t"}}, workdir=tmp_path / "work"
    )
    assert result.ok, result
    assert (tmp_path / "out/order.txt").read_text().split() == ["a", "b", "c", "d"]
    seen = json.loads((tmp_path / "out/d.json").read_text())
    assert seen == {
        "run_id_arg": "run-123",
        "KFP_RUN_ID": "run-123",
        "PLAIN": "plain",
        "SECRET": "s3cr3t",
        "cwd": str((tmp_path / "work" / "d").resolve()),  # every task in a directory of its own
    }
    assert {json.loads((tmp_path / f"out/{n}.json").read_text())["cwd"] for n in "abcd"} == {
        str((tmp_path / "work" / n).resolve()) for n in "abcd"
    }


def test_failure_skips_the_rest(tmp_path: Path) -> None:
    result = run_compiled_pipeline(_pipeline_file(tmp_path, failing="b"), secrets={"creds": {"k": "x"}})
    assert not result.ok
    assert {n: t.status for n, t in result.tasks.items()} == {
        "a": "completed",
        "b": "failed",
        "c": "skipped",
        "d": "skipped",
    }


def test_missing_required_secret_is_reported(tmp_path: Path) -> None:
    with pytest.raises(LocalRunError, match="creds"):
        run_compiled_pipeline(_pipeline_file(tmp_path), require_secrets=True)


def test_runner_targets_the_entrypoint_and_its_workdir_option() -> None:
    from orchestrators.kubeflow_gpu.entrypoint import WORKDIR_OPTION, KubeflowGPUStepEntrypointConfiguration
    from tools.kfp_local_run import WORKDIR_FLAG, ZENML_ENTRYPOINT_SOURCE

    entrypoint = KubeflowGPUStepEntrypointConfiguration
    assert f"{entrypoint.__module__}.{entrypoint.__qualname__}" == ZENML_ENTRYPOINT_SOURCE
    assert f"--{WORKDIR_OPTION}" == WORKDIR_FLAG
    assert entrypoint.get_entrypoint_options()[WORKDIR_OPTION] is False  # optional: never compiled in
