"""The compiled KFP pipeline of the real pipeline matches what ZenML compiled, step for step.

The expectations come from ZenML itself (`--dag-json`: the snapshot's step DAG, step sources, GPU counts and
merged pod settings), and the YAML is read with kfp's own protos (`tools.kfp_ir`), so nothing here hard-codes
the pipeline's steps. The same compile's `--train-job` writes one Kubeflow Trainer TrainJob per training step,
which the Trainer API's own models (kubeflow-trainer-api) must accept as written, with the KFP task's image,
step entrypoint, GPUs and placement.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubeflow_trainer_api.models import TrainerV1alpha1TrainJob

from model.run_config import read_run_config
from orchestrators.kubeflow_gpu.train_job import RANK_COMMAND, TrainJobSchemaError, check_train_job, train_job
from pipelines.plan import step_names
from tests.orchestrators.kfp_testlib import (
    CAUSAL_LATTICE,
    CRON,
    IMAGE,
    PIPELINE_UNDER_TEST,
    REPO_ROOT,
    TRAIN_JOB_NODES,
    TRAIN_JOB_RUN_ID,
    Compiled,
    run_command,
    zenml_env,
)
from tools.kfp_ir import CompiledPipeline, read_pipeline

GPU_TOLERATION_KEYS = {"nvidia.com/gpu"}
GPU_SELECTOR_KEYS = {"accelerator", "nvidia.com/gpu.product", "cloud.google.com/gke-accelerator"}


@pytest.fixture(scope="module")
def kfp(compiled: Compiled) -> CompiledPipeline:
    return read_pipeline(compiled.yaml)


def _gpu(compiled: Compiled, name: str) -> int:
    return int(compiled.dag[name]["gpu_count"])


def test_one_task_per_step_invocation(compiled: Compiled, kfp: CompiledPipeline) -> None:
    assert sorted(kfp.tasks) == sorted(compiled.dag)
    for name, task in kfp.tasks.items():
        assert task.argument("step_name") == name


def test_the_front_doors_step_names_are_zenmls(compiled: Compiled) -> None:
    """`pipelines.plan`, which the front door checks a configuration's `steps:` against, names the same
    invocations as the pipeline ZenML compiled."""
    experiment = read_run_config(PIPELINE_UNDER_TEST.config).require_experiment()
    assert sorted(step_names(experiment)) == sorted(compiled.dag)


def test_dag_edges_equal_zenml_dag(compiled: Compiled, kfp: CompiledPipeline) -> None:
    expected = {(up, name) for name, step in compiled.dag.items() for up in step["upstream"]}
    assert expected, "the pipeline under test has no dependencies at all"
    assert kfp.edges() == expected


def _ancestors(kfp: CompiledPipeline, name: str) -> set[str]:
    seen: set[str] = set()
    stack = list(kfp.tasks[name].dependencies)
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(kfp.tasks[current].dependencies)
    return seen


def _by_source(compiled: Compiled) -> dict[str, list[str]]:
    """Step import path -> its invocation ids."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for name, step in compiled.dag.items():
        by_source[step["source"]].append(name)
    return by_source


def test_fan_out_invocations_are_independent(compiled: Compiled, kfp: CompiledPipeline) -> None:
    fan_outs = {source: names for source, names in _by_source(compiled).items() if len(names) > 1}
    assert fan_outs, "expected at least one step invoked several times (e.g. the repro/subset trainings)"
    for names in fan_outs.values():
        for name in names:
            assert not _ancestors(kfp, name) & set(names), f"{name} depends on a sibling invocation"


def test_production_config_requests_gpus(compiled: Compiled) -> None:
    # The most-invoked step is the training (main, repro seeds, cohorts): each invocation needs a GPU.
    trainings = max(_by_source(compiled).values(), key=len)
    without_gpu = sorted(name for name in trainings if _gpu(compiled, name) == 0)
    assert not without_gpu, (
        f"{without_gpu} request no GPU in the run configuration; give each training invocation "
        "`settings: {resources: {gpu_count: 1}, orchestrator.kubeflow_gpu: {pod_settings: {node_selectors: "
        "..., tolerations: ...}}}` under `steps:`"
    )


def test_gpu_tasks_get_their_own_gpu_settings(compiled: Compiled, kfp: CompiledPipeline) -> None:
    for name in [name for name in kfp.tasks if _gpu(compiled, name) > 0]:
        task, pod = kfp.tasks[name], compiled.dag[name]["pod_settings"]
        assert task.accelerator_limit == _gpu(compiled, name), name
        assert task.accelerator_type == "nvidia.com/gpu", name
        assert pod.get("node_selectors"), f"{name}: no node selector configured for a GPU step"
        assert pod.get("tolerations"), f"{name}: no toleration configured for a GPU step"
        assert task.node_selectors == {k: str(v) for k, v in pod["node_selectors"].items()}, name
        compiled_tolerations = {(t.key, t.operator, t.value, t.effect) for t in task.tolerations}
        expected = {
            (t.get("key", ""), t.get("operator", ""), t.get("value", ""), t.get("effect", ""))
            for t in pod["tolerations"]
        }
        assert compiled_tolerations == expected, name


def test_cpu_tasks_get_no_gpu_and_no_gpu_placement(compiled: Compiled, kfp: CompiledPipeline) -> None:
    cpu_tasks = [name for name in kfp.tasks if _gpu(compiled, name) == 0]
    assert cpu_tasks
    for name in cpu_tasks:
        task = kfp.tasks[name]
        assert task.accelerator_limit == 0 and task.accelerator_type is None, name
        assert not GPU_SELECTOR_KEYS & set(task.node_selectors), name
        assert not GPU_TOLERATION_KEYS & {t.key for t in task.tolerations}, name


def test_image_command_and_environment(compiled: Compiled, kfp: CompiledPipeline) -> None:
    for name, task in kfp.tasks.items():
        assert task.image == IMAGE, name
        assert task.command == ["python", "-m", "zenml.entrypoints.entrypoint"], name
        assert task.inputs == {"kfp_run_id": "{{$.pipeline_job_uuid}}"}, name
        assert task.argument("kfp_run_id") == "{{$.inputs.parameters['kfp_run_id']}}", name
        assert task.argument("snapshot_id"), name
        secret_env = {(s.env_var, s.secret_name, s.secret_key) for s in task.secret_envs}
        # Secret names and keys as in k8s/secrets.example.yaml.
        assert ("ZENML_STORE_URL", "zenml-server-credentials", "ZENML_STORE_URL") in secret_env, name
        assert ("ZENML_STORE_API_KEY", "zenml-server-credentials", "ZENML_STORE_API_KEY") in secret_env, name
        assert ("MLFLOW_TRACKING_URI", "mlflow-client", "MLFLOW_TRACKING_URI") in secret_env, name
        # The compiling client's store (a local sqlite path here) must not leak into the pods.
        assert not [k for k in task.env if k.startswith("ZENML_STORE_")], name
        assert "MLFLOW_TRACKING_URI" not in task.env, name


def test_every_step_pod_carries_the_label_that_admits_it_to_mlflow(kfp: CompiledPipeline) -> None:
    # k8s/networkpolicy.yaml admits only pods with these labels (of the namespace) to the MLflow server.
    policy = yaml.safe_load((REPO_ROOT / "k8s" / "networkpolicy.yaml").read_text())
    (peer,) = policy["spec"]["ingress"][0]["from"]
    selector = peer["podSelector"]["matchLabels"]
    for name, task in kfp.tasks.items():
        assert selector.items() <= task.labels.items(), (name, task.labels)


def test_cron_schedule_becomes_recurring_run_spec(compiled: Compiled) -> None:
    assert compiled.schedule_spec is not None, "no <name>.schedule.json next to the YAML"
    spec = json.loads(compiled.schedule_spec.read_text())
    args = spec["create_recurring_run"]
    assert spec["zenml_cron_expression"] == CRON
    assert args["cron_expression"] == "0 " + CRON  # KFP wants a leading seconds field
    assert args["pipeline_package_path"] == compiled.yaml.name
    assert args["job_name"] == "nightly-retrain"
    assert args["enable_caching"] is False and args["interval_second"] is None
    assert spec["experiment_name"]


@pytest.fixture(scope="module")
def compiled_with_jobs(compiled: Compiled) -> tuple[CompiledPipeline, list[dict[str, Any]]]:
    return read_pipeline(compiled.yaml), list(yaml.safe_load_all(compiled.train_jobs.read_text()))


def test_one_train_job_per_training_valid_against_the_trainer_api(compiled_with_jobs) -> None:  # type: ignore[no-untyped-def]
    kfp, jobs = compiled_with_jobs
    by_step = {}
    for manifest in jobs:
        job = TrainerV1alpha1TrainJob.from_dict(manifest)  # the Trainer API's own model
        assert job is not None and job.to_dict() == manifest  # nothing unknown, nothing dropped
        assert job.kind == "TrainJob" and job.api_version == "trainer.kubeflow.org/v1alpha1"
        trainer = job.spec.trainer
        args = trainer.args
        by_step[args[args.index("--step_name") + 1]] = (job, manifest)
    gpu_tasks = {name: task for name, task in kfp.tasks.items() if task.accelerator_limit}
    assert sorted(by_step) == sorted(gpu_tasks)
    for name, (job, manifest) in by_step.items():
        task, trainer = gpu_tasks[name], job.spec.trainer
        assert job.spec.runtime_ref.name == "torch-distributed"
        assert trainer.image == task.image == IMAGE
        assert trainer.command == RANK_COMMAND
        args = trainer.args
        assert args[args.index("--snapshot_id") + 1] == task.argument("snapshot_id")
        assert args[args.index("--kfp_run_id") + 1] == TRAIN_JOB_RUN_ID
        gpus = task.accelerator_limit  # one rank per GPU of the step's pod
        assert (trainer.num_nodes, trainer.num_proc_per_node) == (TRAIN_JOB_NODES, gpus)
        assert trainer.resources_per_node.limits["nvidia.com/gpu"].actual_instance == str(gpus)
        pod = manifest["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]
        pod_spec = pod["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
        assert pod_spec["nodeSelector"] == task.node_selectors
        assert {t["key"] for t in pod_spec["tolerations"]} == {t.key for t in task.tolerations}
        secrets = {e["name"] for e in trainer.to_dict()["env"] if "valueFrom" in e}
        assert {"ZENML_STORE_URL", "ZENML_STORE_API_KEY", "MLFLOW_TRACKING_URI"} <= secrets


def test_a_manifest_the_trainer_api_would_change_is_refused() -> None:
    manifest = train_job(
        "causal-experiment-train",
        IMAGE,
        ["--step_name", "train"],
        nodes=2,
        gpus_per_node=4,
        accelerator_type="nvidia.com/gpu",
        cpu=4,
        memory_mb=16000,
        environment={},
        secret_environment={},
        pod={},
    )
    misspelt = copy.deepcopy(manifest)
    misspelt["spec"]["trainer"]["numNode"] = misspelt["spec"]["trainer"].pop("numNodes")
    with pytest.raises(TrainJobSchemaError, match="does not keep it as written"):
        check_train_job(misspelt)
    wrong_type = copy.deepcopy(manifest)
    wrong_type["spec"]["trainer"]["numNodes"] = "two"
    with pytest.raises(TrainJobSchemaError):
        check_train_job(wrong_type)


def test_train_job_without_a_run_id_is_one_line(tmp_path: Path) -> None:
    env = zenml_env(tmp_path / "zenml")
    args = ["compile", "--output", str(tmp_path / "p.yaml"), "--train-job", str(tmp_path / "jobs.yaml")]
    proc = run_command([CAUSAL_LATTICE, *args], env, timeout=300)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: --train-job needs --train-job-run-id")
