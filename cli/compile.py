"""Compile a ZenML pipeline to a Kubeflow Pipelines YAML without any Kubeflow or ZenML server.

What `compile_pipeline` does (idempotent; works on a fresh local ZenML store):

1. registers the compile-only orchestrator `kfp-compile-orchestrator` (flavor `kubeflow_gpu`, registered first
   when the store does not know it; `compile_only: true`, the output path and the image) and the stack
   `kfp-compile` (that orchestrator + an existing artifact store, `default` unless named) with `upsert_stack`;
2. runs the pipeline on that stack with `enable_cache=False`, so that the orchestrator receives every step and
   writes the YAML (a fully cached run never reaches the orchestrator), then re-activates the stack that was
   active before.

The YAML's tasks refer to the snapshot in the store that compiled them (`--snapshot_id`): compiled on a local
store they run locally (`python -m tools kfp-run`); for a cluster compile while connected to the ZenML server
the pods use. The image is used as is: nothing is built or pushed.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.stacks import Component, upsert_stack
from model.run_config import read_run_config

if TYPE_CHECKING:
    from zenml.config.schedule import Schedule
    from zenml.pipelines.pipeline_definition import Pipeline

FLAVOR_SOURCE = "orchestrators.kubeflow_gpu.flavor.KubeflowGPUOrchestratorFlavor"
STACK_NAME = "kfp-compile"
ORCHESTRATOR_NAME = "kfp-compile-orchestrator"
ARTIFACT_STORE_NAME = "default"
DEFAULT_PIPELINE = "pipelines.causal_experiment:causal_experiment_pipeline"
DEFAULT_IMAGE = "causal-lattice:latest"


class CompileError(RuntimeError):
    """A usage problem (bad path, config or pipeline reference), reported as one line."""


@dataclass(frozen=True)
class TrainJobOptions:
    """Where to write the training steps' Kubeflow Trainer TrainJobs, on how many pods, for which run."""

    output: Path
    run_id: str
    nodes: int = 2


def load_pipeline(reference: str) -> Pipeline:
    """Imports `module:attribute` and checks that it is a ZenML pipeline.

    Raises:
        CompileError: If it cannot be imported or is no pipeline.
    """
    from zenml.pipelines.pipeline_definition import Pipeline

    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise CompileError(f"Pipeline reference {reference!r} must look like 'package.module:pipeline_name'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise CompileError(f"Cannot import pipeline module {module_name!r}: {e}") from e
    pipeline = getattr(module, attribute, None)
    if not isinstance(pipeline, Pipeline):
        raise CompileError(f"{reference!r} is {type(pipeline).__name__}, not a ZenML pipeline (@pipeline).")
    return pipeline


def check_output_path(output_path: str | Path) -> Path:
    """The resolved output path; a CompileError unless it can be a pipeline file."""
    output = Path(output_path).expanduser().resolve()
    if output.suffix not in (".yaml", ".yml"):
        raise CompileError(f"The output path must end in .yaml or .yml, got {str(output_path)!r}.")
    if output.is_dir():
        raise CompileError(f"The output path {str(output_path)!r} is a directory.")
    return output


def compile_pipeline(
    pipeline: Pipeline,
    config_path: str | Path,
    output_path: str | Path,
    image: str,
    *,
    schedule: Schedule | None = None,
    source_root: str | Path | None = None,
    artifact_store: str = ARTIFACT_STORE_NAME,
    train_jobs: TrainJobOptions | None = None,
) -> Path:
    """Compiles `pipeline` with the run configuration `config_path` into a KFP YAML at `output_path`.

    Args:
        pipeline: The ZenML pipeline.
        config_path: ZenML run configuration (settings per step invocation id, parameters, ...).
        output_path: Where to write the YAML (`.yaml`/`.yml`); a schedule's spec goes next to it.
        image: Container image for every task (unless a step's `image` setting overrides it).
        schedule: Optional ZenML schedule; the config file's `schedule` is used otherwise.
        source_root: Directory ZenML resolves step sources against (default: the current directory).
        artifact_store: Registered artifact store of the `kfp-compile` stack; the compiled steps read and
            write their artifacts there.
        train_jobs: Also write a Kubeflow Trainer TrainJob per GPU step (multi-node trainings).

    Returns:
        The path of the written YAML.

    Raises:
        CompileError: For a bad output path, or if the orchestrator did not write the YAML.
    """
    from zenml.client import Client
    from zenml.utils import source_utils

    from orchestrators.kubeflow_gpu.flavor import KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR

    read_run_config(config_path)
    output = check_output_path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    before = output.stat().st_mtime_ns if output.exists() else None

    root = Path(source_root or Path.cwd()).resolve()
    if not root.is_dir():
        raise CompileError(f"source root {str(root)!r} is not a directory.")
    source_utils.set_custom_source_root(str(root))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

    values: dict[str, Any] = {"compile_only": True, "pipeline_output_path": str(output), "image": image}
    if train_jobs is not None:
        values |= {
            "train_job_output_path": str(check_output_path(train_jobs.output)),
            "train_job_run_id": train_jobs.run_id,
            "train_job_nodes": train_jobs.nodes,
        }
    orchestrator = Component(
        "orchestrator",
        ORCHESTRATOR_NAME,
        KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR,
        values,
        flavor_source=FLAVOR_SOURCE,
    )
    upsert_stack(STACK_NAME, [orchestrator, Component("artifact_store", artifact_store)], activate=False)
    client = Client()
    previous_stack = client.active_stack_model.id
    client.activate_stack(STACK_NAME)
    try:
        options: dict[str, Any] = {"config_path": str(config_path), "enable_cache": False}
        if schedule is not None:
            options["schedule"] = schedule
        pipeline.with_options(**options)()
    finally:
        client.activate_stack(previous_stack)

    if not output.exists() or output.stat().st_mtime_ns == before:
        raise CompileError(
            f"The orchestrator did not write {str(output)!r}. Does the run configuration set "
            "`settings.orchestrator.kubeflow_gpu.pipeline_output_path` (it overrides --output)?"
        )
    return output
