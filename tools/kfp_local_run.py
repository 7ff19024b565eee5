"""Run the tasks of a compiled KFP YAML as local processes, in DAG order, without Kubernetes (a development and
CI tool, not shipped).

This executes what the pods would: each task's container `command + args` from the YAML, with the YAML's
environment, the secret-sourced variables you supply, and `KFP_RUN_ID`. Placeholders are filled the way the KFP
driver/launcher fills them (`{{$.inputs.parameters['x']}}` from the task's constant inputs, whose own
`{{$.pipeline_job_uuid}}` etc. become the local run's values). Against the ZenML store the YAML was compiled
on (same `ZENML_CONFIG_PATH`), the steps complete a real ZenML pipeline run (docs/design.md §6).

    python -m tools kfp-run build/kubeflow/causal_experiment_pipeline.yaml [--secret NAME.KEY=VALUE] ...

Local stand-ins for the container: `python` in the command is this interpreter (the image's python); every
task gets a working directory of its own, `<workdir>/<task>/`, as every pod has its own file system (for
the ZenML step entrypoint through its `--workdir` option, since it enters the image's `/app` first, which
must therefore exist or be creatable); `PYTHONPATH` starts with the source root and the repository root
(where the image has the project installed). Secrets that are not supplied are left unset (the ZenML client
then uses the local store from `ZENML_CONFIG_PATH`); `require_secrets` fails instead, as a pod would.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from tools.kfp_ir import CompiledPipeline, CompiledTask, read_pipeline

REPO_ROOT = Path(__file__).resolve().parents[1]
# The kubeflow_gpu step entrypoint (orchestrators/kubeflow_gpu/entrypoint.py) and its working-directory option.
ZENML_ENTRYPOINT_SOURCE = "orchestrators.kubeflow_gpu.entrypoint.KubeflowGPUStepEntrypointConfiguration"
WORKDIR_FLAG = "--workdir"
IMAGE_WORKDIR = Path("/app")
_INPUT = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
_PLACEHOLDER = re.compile(r"\{\{\$[^}]*\}\}")


class LocalRunError(RuntimeError):
    """A task cannot be started (unknown placeholder, missing required secret, cyclic DAG)."""


@dataclass
class TaskResult:
    """Outcome of one task."""

    status: str  # "completed" | "failed" | "skipped"
    returncode: int | None = None
    seconds: float = 0.0
    log: str | None = None


@dataclass
class LocalRunResult:
    """Outcome of a local run."""

    run_id: str
    pipeline: str
    order: list[str]
    tasks: dict[str, TaskResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every task completed."""
        return all(t.status == "completed" for t in self.tasks.values())


def execution_order(pipeline: CompiledPipeline) -> list[str]:
    """Task display names in dependency order."""
    upstream = {name: sorted(task.dependencies) for name, task in sorted(pipeline.tasks.items())}
    try:
        return list(TopologicalSorter(upstream).static_order())
    except CycleError as error:
        raise LocalRunError(f"cyclic task dependencies: {error.args[1]}") from None


def _is_zenml_step(argv: list[str]) -> bool:
    return ZENML_ENTRYPOINT_SOURCE in argv


def _runtime_values(pipeline: CompiledPipeline, task: CompiledTask, run_id: str, root: str) -> dict[str, str]:
    return {
        "{{$.pipeline_job_uuid}}": run_id,
        "{{$.pipeline_job_name}}": f"{pipeline.name}-{run_id[:8]}",
        "{{$.pipeline_job_resource_name}}": f"{pipeline.name}-{run_id}",
        "{{$.pipeline_task_name}}": task.task_name,
        "{{$.pipeline_task_uuid}}": str(uuid.uuid4()),
        "{{$.pipeline_root}}": root,
        "{{$.pipeline_job_create_time_utc}}": datetime.now(UTC).isoformat(),
        "{{$.pipeline_job_schedule_time_utc}}": datetime.now(UTC).isoformat(),
    }


def _fill(text: str, values: Mapping[str, str], what: str) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    if leftover := _PLACEHOLDER.findall(text):
        raise LocalRunError(f"{what}: cannot resolve placeholder(s) {leftover} locally.")
    return text


def resolve_command(pipeline: CompiledPipeline, task: CompiledTask, run_id: str, root: str) -> list[str]:
    """The task's command + args with placeholders filled in as the KFP driver and launcher would (`run_id`
    stands for the KFP run UUID, `root` for `{{$.pipeline_root}}`)."""
    values = _runtime_values(pipeline, task, run_id, root)
    inputs = {
        key: _fill(str(value), values, f"{task.display_name} input {key}")
        for key, value in task.inputs.items()
    }

    def input_value(match: re.Match[str]) -> str:
        if match.group(1) not in inputs:
            raise LocalRunError(f"{task.display_name}: no constant value for input {match.group(1)!r}.")
        return inputs[match.group(1)]

    return [
        _fill(_INPUT.sub(input_value, part), values, f"{task.display_name} argument")
        for part in task.command + task.args
    ]


def task_environment(
    task: CompiledTask,
    *,
    run_id: str,
    secrets: Mapping[str, Mapping[str, str]],
    require_secrets: bool,
    base: Mapping[str, str],
) -> dict[str, str]:
    """Environment of a task: `base` + the YAML's env + secret-sourced variables + `KFP_RUN_ID`.

    Raises:
        LocalRunError: If `require_secrets` and a non-optional secret key was not supplied.
    """
    env = dict(base)
    env.update(task.env)
    for ref in task.secret_envs:
        value = (secrets.get(ref.secret_name) or {}).get(ref.secret_key)
        if value is not None:
            env[ref.env_var] = value
        elif require_secrets and not ref.optional:
            raise LocalRunError(
                f"{task.display_name}: secret {ref.secret_name!r} key {ref.secret_key!r} ({ref.env_var}) was "
                "not supplied (--secret NAME.KEY=VALUE)."
            )
    env["KFP_RUN_ID"] = run_id
    return env


@contextlib.contextmanager
def _keep_active_stack(pipeline: CompiledPipeline) -> Iterator[None]:
    """Restores the caller's active ZenML stack after the tasks ran.

    The tasks carry the compiling client's `ZENML_ACTIVE_STACK_ID` (the `kfp-compile` stack) and ZenML
    persists it into the global config while they run; left alone, the user's next `zenml pipeline run` would
    land on the compile-only orchestrator. Only imports ZenML when the YAML is a ZenML pipeline.
    """
    if not any("ZENML_ACTIVE_STACK_ID" in task.env for task in pipeline.tasks.values()):
        yield
        return
    from zenml.client import Client

    before = Client().active_stack_model.id
    try:
        yield
    finally:
        Client().activate_stack(before)


def run_compiled_pipeline(
    pipeline_file: str | Path,
    *,
    run_id: str | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    require_secrets: bool = False,
    workdir: str | Path | None = None,
    source_root: str | Path | None = None,
    log_dir: str | Path | None = None,
    python: str = sys.executable,
    timeout: float | None = None,
    echo: bool = False,
) -> LocalRunResult:
    """Runs every task of a compiled pipeline as a local subprocess, in DAG order, stopping at a failure.

    Args:
        pipeline_file: The compiled KFP YAML.
        run_id: Stands for the KFP run UUID (default: a new uuid4).
        secrets: Secret name -> key -> value for the tasks' `use_secret_as_env` variables.
        require_secrets: Fail on non-optional secret keys that were not supplied (else leave them unset).
        workdir: Parent of the tasks' own working directories `<workdir>/<task>/` (default: a new temporary
            directory); also stands for `{{$.pipeline_root}}`.
        source_root: Prepended to `PYTHONPATH` (default: current directory), before the repository root.
        log_dir: Where `<task>.log` files go (default: `<workdir>/logs`).
        python: Interpreter replacing `python`/`python3` at the start of the commands.
        timeout: Per-task timeout in seconds.
        echo: Print each task's command and status.

    Returns:
        The per-task results; `.ok` tells whether all completed.
    """
    pipeline = read_pipeline(pipeline_file)
    order = execution_order(pipeline)
    run_id = run_id or str(uuid.uuid4())
    work = Path(workdir or tempfile.mkdtemp(prefix="kfp-local-")).resolve()
    logs = Path(log_dir or work / "logs").resolve()
    logs.mkdir(parents=True, exist_ok=True)
    roots = [str(Path(source_root or os.getcwd()).resolve()), str(REPO_ROOT)]
    base = dict(os.environ)
    base["PYTHONPATH"] = os.pathsep.join([*roots, *filter(None, [base.get("PYTHONPATH")])])

    result = LocalRunResult(run_id=run_id, pipeline=pipeline.name, order=order)
    with _keep_active_stack(pipeline):
        for name in order:
            if any(t.status != "completed" for t in result.tasks.values()):
                result.tasks[name] = TaskResult(status="skipped")
                continue
            task = pipeline.tasks[name]
            argv = resolve_command(pipeline, task, run_id, str(work))
            if argv and argv[0] in ("python", "python3"):
                argv[0] = python
            task_dir = work / name
            task_dir.mkdir(parents=True, exist_ok=True)
            if _is_zenml_step(argv):
                _check_image_workdir()
                argv += [WORKDIR_FLAG, str(task_dir)]
            env = task_environment(
                task, run_id=run_id, secrets=secrets or {}, require_secrets=require_secrets, base=base
            )
            result.tasks[name] = _run_task(name, argv, env, task_dir, logs / f"{name}.log", timeout, echo)
    return result


def _check_image_workdir() -> None:
    """ZenML's step entrypoint creates and enters the image's /app before it reads any option."""
    if not IMAGE_WORKDIR.is_dir() and not os.access(IMAGE_WORKDIR.parent, os.W_OK):
        raise LocalRunError(
            f"ZenML's step entrypoint enters {IMAGE_WORKDIR} before the task's own working directory, and this "
            f"user cannot create it: create it once (sudo mkdir -m 1777 {IMAGE_WORKDIR}) or run as root"
        )


def _run_task(
    name: str,
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    timeout: float | None,
    echo: bool,
) -> TaskResult:
    if echo:
        print(f"[{name}] {' '.join(argv)}", flush=True)
    started = time.monotonic()
    with log_path.open("w") as log:
        try:
            code: int | None = subprocess.run(
                argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            code = None
    result = TaskResult("completed" if code == 0 else "failed", code, round(time.monotonic() - started, 2))
    result.log = str(log_path)
    if echo:
        print(f"[{name}] {result.status} ({result.seconds}s)", flush=True)
    return result


def zenml_run_status(run_id: str) -> dict[str, Any]:
    """Status of the ZenML run(s) whose orchestrator run id is `run_id`, in the active ZenML store.

    Returns:
        `{"runs": [{"name", "status", "steps": {invocation: status}}]}`.
    """
    from zenml.client import Client

    runs = Client().list_pipeline_runs(orchestrator_run_id=run_id, hydrate=True)
    return {
        "runs": [
            {
                "name": run.name,
                "status": str(run.status.value),
                "steps": {name: str(step.status.value) for name, step in run.steps.items()},
            }
            for run in runs.items
        ]
    }
