"""`KubernetesPodSettings` -> kfp-kubernetes (kfp only, no ZenML), checked through kfp's protos."""

# No `from __future__ import annotations`: kfp reads component signatures at runtime.
from pathlib import Path
from typing import Any

import pytest
from kfp import compiler, dsl

from orchestrators.kubeflow_gpu.k8s_config import UnsupportedPodSettingError, apply_pod_settings
from tools.kfp_ir import CompiledTask, read_pipeline

GPU_POD: dict[str, Any] = {
    "node_selectors": {"accelerator": "nvidia-h200", "pool": "training"},
    "tolerations": [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute", "tolerationSeconds": 60},
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}
                ]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}
            ],
        }
    },
    "labels": {"team": "causal"},
    "annotations": {"owner": "ml"},
    "env": [
        {"name": "PLAIN", "value": "1"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}},
    ],
    "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "cohorts"}}],
    "volume_mounts": [{"name": "data", "mountPath": "/data"}],
    "image_pull_secrets": ["regcred"],
}


def _compile(tmp_path: Path, pods: dict[str, dict[str, Any]], gpu: set[str]) -> dict[str, CompiledTask]:
    @dsl.container_component
    def noop() -> dsl.ContainerSpec:
        return dsl.ContainerSpec(image="busybox", command=["true"])

    @dsl.pipeline(name="pod-settings")
    def pipeline() -> None:
        for name, pod in pods.items():
            task = noop().set_display_name(name)
            apply_pod_settings(task, pod, step_name=name, gpu=name in gpu)

    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(path))
    return read_pipeline(path).tasks


def test_gpu_step_gets_all_pod_settings(tmp_path: Path) -> None:
    task = _compile(tmp_path, {"train": GPU_POD}, gpu={"train"})["train"]
    assert task.node_selectors == {"accelerator": "nvidia-h200", "pool": "training"}
    assert {(t.key, t.operator, t.value, t.effect, t.toleration_seconds) for t in task.tolerations} == {
        ("nvidia.com/gpu", "Exists", "", "NoSchedule", None),
        ("spot", "Equal", "true", "NoExecute", 60),
    }
    assert task.node_affinity == [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
        {"matchExpressions": [{"key": "disk", "operator": "Exists"}], "weight": 10},
    ]
    assert task.labels == {"team": "causal"} and task.annotations == {"owner": "ml"}
    assert task.env == {"PLAIN": "1"}
    assert [(s.secret_name, s.secret_key, s.env_var) for s in task.secret_envs] == [("tok", "t", "TOKEN")]
    assert task.memory_limit == "8Gi"
    assert task.kubernetes is not None
    assert [(p.constant, p.mount_path) for p in task.kubernetes.pvc_mount] == [("cohorts", "/data")]
    assert [s.secret_name for s in task.kubernetes.image_pull_secret] == ["regcred"]


def test_cpu_step_loses_gpu_only_placement(tmp_path: Path) -> None:
    task = _compile(tmp_path, {"report": GPU_POD}, gpu=set())["report"]
    assert task.node_selectors == {"pool": "training"}
    assert [t.key for t in task.tolerations] == ["spot"]
    assert task.accelerator_limit == 0


@pytest.mark.parametrize(
    "pod",
    [
        {"host_ipc": True},
        {"scheduler_name": "volcano"},
        {"additional_pod_spec_args": {"priorityClassName": "high"}},
        {"env_from": [{"secretRef": {"name": "all"}}]},
        {"resources": {"limits": {"nvidia.com/gpu": "1"}}},
        {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{}]}}},
    ],
)
def test_unsupported_settings_are_refused_not_dropped(tmp_path: Path, pod: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPodSettingError):
        _compile(tmp_path, {"step": pod}, gpu={"step"})


@pytest.mark.parametrize(
    ("pod", "named"),
    [
        ({"tolerations": [{"key": "k", "toleration_seconds": 5}]}, "toleration_seconds"),
        ({"volume_mounts": [{"name": "data"}], "volumes": [{"name": "data"}]}, "mount_path"),
        ({"env": [{"value": "1"}]}, "name"),
    ],
)
def test_kubernetes_objects_are_read_by_zenmls_deserialiser(
    tmp_path: Path, pod: dict[str, Any], named: str
) -> None:
    """Keys as in Kubernetes YAML (camelCase); anything else, or a missing required field, names the step."""
    with pytest.raises(UnsupportedPodSettingError, match=rf"Step 'step'.*{named}"):
        _compile(tmp_path, {"step": pod}, gpu={"step"})
