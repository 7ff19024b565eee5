"""ZenML's own step DAG of a compiled KFP YAML, to check the KFP translation against (tests, reviews)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.kfp_ir import PipelineIRError, read_pipeline


def snapshot_id_of(pipeline_file: str | Path) -> str:
    """The ZenML snapshot id the tasks of a compiled YAML run (`--snapshot_id`)."""
    ids = {task.argument("snapshot_id") for task in read_pipeline(pipeline_file).tasks.values()}
    if len(ids) != 1 or None in ids:
        raise PipelineIRError(f"{pipeline_file}: expected one --snapshot_id over all tasks, found {ids}.")
    return str(ids.pop())


def zenml_dag(snapshot_id: str) -> dict[str, dict[str, Any]]:
    """The step DAG as ZenML compiled it, from the active ZenML store.

    Returns:
        Invocation id -> `{"upstream": [...], "source": step import path, "gpu_count": int,
        "pod_settings": the step's `orchestrator.kubeflow_gpu` pod settings as ZenML merged them}`.
    """
    from uuid import UUID

    from zenml.client import Client

    from orchestrators.kubeflow_gpu.flavor import KUBEFLOW_GPU_SETTINGS_KEY

    snapshot = Client().zen_store.get_snapshot(UUID(snapshot_id))
    dag: dict[str, dict[str, Any]] = {}
    for name, step in snapshot.step_configurations.items():
        settings = step.config.settings.get(KUBEFLOW_GPU_SETTINGS_KEY)
        dag[name] = {
            "upstream": sorted(step.spec.upstream_steps),
            "source": step.spec.source.import_path,
            "gpu_count": int(step.config.resource_settings.gpu_count or 0),
            "pod_settings": (settings.model_dump(mode="json").get("pod_settings") if settings else None)
            or {},
        }
    return dag
