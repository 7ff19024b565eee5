"""Read a compiled KFP pipeline YAML with kfp's own protos (a development and CI tool, not shipped).

A `kfp` 2.x package is a YAML stream: document 1 is the `PipelineSpec`
(`kfp.pipeline_spec.pipeline_spec_pb2`), document 2 (present when kfp-kubernetes was used) is a `PlatformSpec`
whose `platforms.kubernetes.deploymentSpec.executors.<executor>` are `KubernetesExecutorConfig` messages
(`kfp.kubernetes.kubernetes_executor_config_pb2`). Parsing them with `json_format.ParseDict` rejects fields
the protos do not know, so a test that uses this reads the YAML the way the KFP backend would.

`read_pipeline(path)` returns one `CompiledTask` per task of the root DAG, keyed by its display name (which
the `kubeflow_gpu` orchestrator sets to the ZenML step invocation id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s_pb
from kfp.pipeline_spec import pipeline_spec_pb2 as pb


@dataclass(frozen=True)
class SecretEnv:
    """One `use_secret_as_env` mapping."""

    secret_name: str
    secret_key: str
    env_var: str
    optional: bool


@dataclass(frozen=True)
class Toleration:
    """A pod toleration."""

    key: str
    operator: str
    value: str
    effect: str
    toleration_seconds: int | None


@dataclass
class CompiledTask:
    """What one KFP task will run and where."""

    task_name: str
    display_name: str
    executor: str
    dependencies: list[str]
    image: str
    command: list[str]
    args: list[str]
    env: dict[str, str]
    inputs: dict[str, Any]
    accelerator_type: str | None
    accelerator_limit: int
    cpu_limit: str | None
    memory_limit: str | None
    node_selectors: dict[str, str] = field(default_factory=dict)
    tolerations: list[Toleration] = field(default_factory=list)
    node_affinity: list[dict[str, Any]] = field(default_factory=list)
    secret_envs: list[SecretEnv] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    kubernetes: k8s_pb.KubernetesExecutorConfig | None = None

    @property
    def is_gpu(self) -> bool:
        """Whether the task requests an accelerator."""
        return self.accelerator_limit > 0

    def argument(self, option: str) -> str | None:
        """Value after `--<option>` in the args (None if absent)."""
        flag = f"--{option}"
        for i, arg in enumerate(self.args[:-1]):
            if arg == flag:
                return self.args[i + 1]
        return None


@dataclass
class CompiledPipeline:
    """A parsed KFP package."""

    name: str
    spec: pb.PipelineSpec
    platform: pb.PlatformSpec | None
    tasks: dict[str, CompiledTask]

    def edges(self) -> set[tuple[str, str]]:
        """(upstream, downstream) pairs by display name."""
        return {(dep, task.display_name) for task in self.tasks.values() for dep in task.dependencies}


class PipelineIRError(ValueError):
    """The file is not a KFP pipeline package this module understands."""


def _accelerator(resources: Any) -> tuple[str | None, int]:
    acc = resources.accelerator
    kind = acc.resource_type or acc.type or None
    count = acc.resource_count or (str(acc.count) if acc.count else "")
    if count and not re.fullmatch(r"\d+", count):
        raise PipelineIRError(f"Accelerator count {count!r} is not a constant integer.")
    return kind, int(count or 0)


def _value(v: Any) -> Any:
    return json_format.MessageToDict(v) if v is not None else None


def read_pipeline(path: str | Path) -> CompiledPipeline:
    """Parses a compiled KFP pipeline YAML.

    Args:
        path: The YAML file.

    Returns:
        The parsed pipeline.

    Raises:
        PipelineIRError: If the file is not a single-DAG container pipeline.
    """
    docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d is not None]
    if not docs:
        raise PipelineIRError(f"{path}: empty file.")
    spec = json_format.ParseDict(docs[0], pb.PipelineSpec())
    platform = json_format.ParseDict(docs[1], pb.PlatformSpec()) if len(docs) > 1 else None
    deployment = json_format.ParseDict(
        json_format.MessageToDict(spec.deployment_spec), pb.PipelineDeploymentConfig()
    )
    k8s_executors: dict[str, k8s_pb.KubernetesExecutorConfig] = {}
    if platform is not None and "kubernetes" in platform.platforms:
        executors = platform.platforms["kubernetes"].deployment_spec.executors
        for name, struct in executors.items():
            k8s_executors[name] = json_format.ParseDict(
                json_format.MessageToDict(struct), k8s_pb.KubernetesExecutorConfig()
            )

    root_tasks = spec.root.dag.tasks
    display = {name: (task.task_info.name or name) for name, task in root_tasks.items()}
    if len(set(display.values())) != len(display):
        raise PipelineIRError(f"{path}: duplicate task display names {sorted(display.values())}.")

    tasks: dict[str, CompiledTask] = {}
    for name, task in root_tasks.items():
        component = spec.components[task.component_ref.name]
        executor_label = component.executor_label
        if not executor_label or executor_label not in deployment.executors:
            raise PipelineIRError(f"{path}: task {name!r} is not a container task.")
        container = deployment.executors[executor_label].container
        accelerator_type, accelerator_limit = _accelerator(container.resources)
        k8s = k8s_executors.get(executor_label)
        inputs = {
            key: _value(param.runtime_value.constant)
            for key, param in task.inputs.parameters.items()
            if param.HasField("runtime_value")
        }
        compiled = CompiledTask(
            task_name=name,
            display_name=display[name],
            executor=executor_label,
            dependencies=sorted(display[d] for d in task.dependent_tasks),
            image=container.image,
            command=list(container.command),
            args=list(container.args),
            env={e.name: e.value for e in container.env},
            inputs=inputs,
            accelerator_type=accelerator_type,
            accelerator_limit=accelerator_limit,
            cpu_limit=container.resources.resource_cpu_limit or None,
            memory_limit=container.resources.resource_memory_limit or None,
            kubernetes=k8s,
        )
        if k8s is not None:
            compiled.node_selectors = dict(k8s.node_selector.labels)
            compiled.tolerations = [
                Toleration(
                    key=t.key,
                    operator=t.operator,
                    value=t.value,
                    effect=t.effect,
                    toleration_seconds=t.toleration_seconds if t.HasField("toleration_seconds") else None,
                )
                for t in k8s.tolerations
            ]
            compiled.node_affinity = [json_format.MessageToDict(term) for term in k8s.node_affinity]
            compiled.secret_envs = [
                SecretEnv(
                    secret_name=s.secret_name or s.secret_name_parameter.runtime_value.constant.string_value,
                    secret_key=m.secret_key,
                    env_var=m.env_var,
                    optional=s.optional,
                )
                for s in k8s.secret_as_env
                for m in s.key_to_env
            ]
            compiled.labels = dict(k8s.pod_metadata.labels)
            compiled.annotations = dict(k8s.pod_metadata.annotations)
        tasks[compiled.display_name] = compiled
    return CompiledPipeline(name=spec.pipeline_info.name, spec=spec, platform=platform, tasks=tasks)
