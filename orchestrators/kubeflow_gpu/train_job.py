"""Kubeflow Trainer jobs (TrainJob, `trainer.kubeflow.org/v1alpha1`) for the pipeline's training steps: one
training across several pods (docs/design.md, "Data-parallel training"; k8s/README.md says why TrainJob and not
the training operator's PyTorchJob).

Each TrainJob runs the same image and ZenML step entrypoint as the step's KFP task, under torchrun on
`nodes` pods of the Trainer's `torch-distributed` runtime with one rank per GPU of the step
(`resources.gpu_count`): `torchrun -m steps.support.ranks <the step's entrypoint arguments>`. Rank 0 runs the
ZenML step (it joins torchrun's group, writes artifacts, MLflow records and checkpoints); the other ranks take
the training's inputs from it (steps/support/ranks.py). Every manifest is checked against the Trainer API's
own models (`kubeflow-trainer-api`) before it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TRAINER_API_VERSION = "trainer.kubeflow.org/v1alpha1"
TORCH_RUNTIME = "torch-distributed"  # the Trainer's ClusterTrainingRuntime for PyTorch (torchrun's PET_* env)
RUNTIME_NODE_JOB = "node"  # that runtime's replicated job of trainer pods
RANK_COMMAND = ["torchrun", "-m", "steps.support.ranks"]


class TrainJobSchemaError(ValueError):
    """A manifest the Trainer API's models refuse or would change (a key they do not know)."""


def train_job(
    name: str,
    image: str,
    entrypoint_arguments: list[str],
    *,
    nodes: int,
    gpus_per_node: int,
    accelerator_type: str,
    cpu: float | None,
    memory_mb: int | None,
    environment: Mapping[str, str],
    secret_environment: Mapping[str, tuple[str, str]],
    pod: Mapping[str, Any],
) -> dict[str, Any]:
    """One training step's TrainJob, checked against the Trainer API (`check_train_job`).

    Args:
        name: the TrainJob's name (a DNS label).
        image: the step's image.
        entrypoint_arguments: the ZenML step entrypoint's arguments of the step (with its run id).
        nodes: pods of the job; `gpus_per_node` ranks on each, one per GPU.
        accelerator_type: the GPU's Kubernetes resource name.
        cpu, memory_mb: each pod's limits (None: none).
        environment: plain variables of the step (ZenML's step environment).
        secret_environment: variable -> (Secret, key), as the KFP tasks get them.
        pod: the step's pod settings (`labels`, `node_selectors`, `tolerations`).
    """
    limits: dict[str, Any] = {accelerator_type: str(gpus_per_node)}
    if cpu:
        limits["cpu"] = f"{cpu:g}"
    if memory_mb:
        limits["memory"] = f"{memory_mb}M"
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(environment.items())]
    env += [
        {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for variable, (secret, key) in sorted(secret_environment.items())
    ]
    pod_spec: dict[str, Any] = {}
    if pod.get("node_selectors"):
        pod_spec["nodeSelector"] = {k: str(v) for k, v in pod["node_selectors"].items()}
    if pod.get("tolerations"):
        pod_spec["tolerations"] = [
            {_camel(k): v for k, v in toleration.items() if v is not None}
            for toleration in pod["tolerations"]
        ]
    labels = {k: str(v) for k, v in (pod.get("labels") or {}).items()}
    template: dict[str, Any] = {"spec": pod_spec} | ({"metadata": {"labels": dict(labels)}} if labels else {})
    manifest: dict[str, Any] = {
        "apiVersion": TRAINER_API_VERSION,
        "kind": "TrainJob",
        "metadata": {"name": name} | ({"labels": labels} if labels else {}),
        "spec": {
            "runtimeRef": {
                "apiGroup": "trainer.kubeflow.org",
                "kind": "ClusterTrainingRuntime",
                "name": TORCH_RUNTIME,
            },
            "trainer": {
                "image": image,
                "command": RANK_COMMAND,
                "args": list(entrypoint_arguments),
                "numNodes": nodes,
                "numProcPerNode": gpus_per_node,
                "resourcesPerNode": {"limits": limits},
                "env": env,
            },
            # The step's placement on every trainer pod (GPU node selector, toleration, the MLflow label).
            "runtimePatches": [
                {
                    "manager": "causal-lattice",
                    "trainingRuntimeSpec": {
                        "template": {
                            "spec": {
                                "replicatedJobs": [
                                    {
                                        "name": RUNTIME_NODE_JOB,
                                        "template": {"spec": {"template": template}},
                                    }
                                ]
                            }
                        }
                    },
                }
            ],
        },
    }
    check_train_job(manifest)
    return manifest


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def check_train_job(manifest: dict[str, Any]) -> None:
    """Parse `manifest` with the Trainer API's TrainJob model and check that nothing was dropped or changed.

    Raises:
        TrainJobSchemaError: the model refuses the manifest, or its round trip differs (an unknown key).
    """
    from kubeflow_trainer_api.models import TrainerV1alpha1TrainJob
    from pydantic import ValidationError

    try:
        parsed = TrainerV1alpha1TrainJob.from_dict(manifest)
    except ValidationError as error:
        raise TrainJobSchemaError(f"TrainJob {manifest.get('metadata')}: {error}") from None
    if parsed is None or parsed.to_dict() != manifest:
        raise TrainJobSchemaError(
            f"TrainJob {manifest.get('metadata')}: the Trainer API's model does not keep it as written "
            f"(an unknown or misplaced key): {parsed.to_dict() if parsed else None}"
        )


def write_train_jobs(path: Path, manifests: list[dict[str, Any]]) -> Path:
    """The manifests as one multi-document YAML (`kubectl apply -f`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    return path
