"""Threads: the CPU quota read from cgroup v1 and v2 files, the count resolved from `train.threads`, and the
reason the count is fixed (torch's CPU kernels give other bits on other thread counts) and that fixing it
makes a training the same whatever thread count the process started with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.training.threads import cgroup_cpu_limit, resolve_threads, usable_cpus
from tests.integration.docs_runs import cpu_cgroup, in_cgroup, remove_cgroup

REPO = Path(__file__).resolve().parents[2]


def _cgroup_v2(tmp_path: Path, limits: dict[str, str]) -> tuple[Path, Path]:
    proc = tmp_path / "proc_cgroup"
    proc.write_text("0::/kubepods/pod1/box\n")
    for relative, value in limits.items():
        directory = tmp_path / "cg" / relative
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cpu.max").write_text(value + "\n")
    return tmp_path / "cg", proc


def test_cgroup_v2_limit_is_the_tightest_of_the_group_and_its_parents(tmp_path: Path) -> None:
    root, proc = _cgroup_v2(
        tmp_path,
        {"kubepods": "max 100000", "kubepods/pod1": "250000 100000", "kubepods/pod1/box": "max 100000"},
    )
    assert cgroup_cpu_limit(root, proc) == 2.5
    root, proc = _cgroup_v2(tmp_path, {"kubepods/pod1/box": "50000 100000"})
    assert cgroup_cpu_limit(root, proc) == 0.5


def test_cgroup_v2_without_a_limit_and_a_container_at_the_root(tmp_path: Path) -> None:
    root, proc = _cgroup_v2(tmp_path, {"": "max 100000"})
    assert cgroup_cpu_limit(root, proc) is None
    proc.write_text("0::/\n")  # inside a container with its own cgroup namespace
    (root / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(root, proc) == 1.5


def test_cgroup_v1_quota_of_the_cpu_controller(tmp_path: Path) -> None:
    proc = tmp_path / "proc_cgroup"
    proc.write_text("5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    group = tmp_path / "cg" / "cpu,cpuacct" / "docker" / "abc"
    group.mkdir(parents=True)
    (group / "cpu.cfs_quota_us").write_text("300000\n")
    (group / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(tmp_path / "cg", proc) == 3.0
    (group / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(tmp_path / "cg", proc) is None
    assert cgroup_cpu_limit(tmp_path / "nothing", tmp_path / "missing") is None


def test_usable_cpus_and_resolved_threads() -> None:
    assert usable_cpus(None, 16) == 16  # no quota: the CPUs the process may run on, never more
    assert usable_cpus(2.5, 16) == 2  # a 2500m limit keeps two threads busy without throttling
    assert usable_cpus(0.5, 16) == 1  # at least one
    assert usable_cpus(8.0, 2) == 2  # the quota never adds CPUs the affinity does not give
    assert resolve_threads(1, 16) == 1
    assert resolve_threads(4, 2) == 2  # the quota caps a configured count
    assert resolve_threads("auto", 3) == 3


def test_layer_norm_backward_depends_on_the_thread_count() -> None:
    """Why `train.threads` is fixed (model/training/threads.py): the same LayerNorm backward on 1 and on 2 threads."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 21, 32, generator=generator)
    grad = torch.randn(64, 21, 32, generator=generator)
    norm = torch.nn.LayerNorm(32)
    previous = torch.get_num_threads()
    weights = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            norm.zero_grad()
            norm(x).backward(grad)
            weights.append(norm.weight.grad.clone())
    finally:
        torch.set_num_threads(previous)
    assert not torch.equal(weights[0], weights[1])
    assert torch.allclose(weights[0], weights[1], atol=1e-4)  # rounding, not a bug


TRAIN = """
import hashlib, json, sys
import torch
from model.config import ExperimentConfig
from model.data.splits import split_dataset
from model.data.sources import load_dataset
from model.training.threads import machine_threads
requested = json.loads(sys.argv[1])
runtime = machine_threads(requested, "cpu")
experiment = ExperimentConfig.model_validate({
    "data": {"kind": "synthetic", "n_samples": 240, "n_genes": 6, "n_causal_genes": 2, "n_biomarkers": 1},
    "model": {"d_model": 16, "n_heads": 2, "n_blocks": 2, "d_latent": 8},
    "train": {"epochs": 2, "lr": 3e-3, "device": "cpu",
              "structure": {"steps_per_round": 10, "min_rounds": 2, "max_rounds": 2,
                            "orientation_steps": 40}},
})
from model.training.trainer import evaluate_model, train_model
split = split_dataset(load_dataset(experiment.data, 20), experiment.split)
fit = train_model(split.train, experiment.model, experiment.train, progress=None, structure_progress=None)
digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in fit.model.state_dict().values())).hexdigest()
print(json.dumps({"threads": torch.get_num_threads(), "usable": runtime.usable_cpus, "digest": digest,
                  "metrics": evaluate_model(fit.model, split.test)}))
"""


def _train(requested: int | str, omp_threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(omp_threads), "MKL_NUM_THREADS": str(omp_threads)}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", TRAIN, json.dumps(requested)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_training_is_identical_whatever_threads_the_process_starts_with() -> None:
    runs = [_train(1, omp) for omp in (1, 2, 4)]
    assert {run["threads"] for run in runs} == {1}
    assert len({run["digest"] for run in runs}) == 1, runs
    assert runs[0]["metrics"] == runs[1]["metrics"] == runs[2]["metrics"]
    # The same training on two threads really uses them and gives other bits: the pin is what makes it equal.
    two = _train(2, 1)
    assert two["threads"] == min(2, two["usable"])
    if two["threads"] == 2:
        assert two["digest"] != runs[0]["digest"]


def test_auto_threads_follow_a_real_cgroup_quota(tmp_path: Path) -> None:
    group = cpu_cgroup(f"causal-lattice-test-{os.getpid()}", 0.5)
    if group is None:
        pytest.skip("this machine does not let the test make a cgroup with a CPU quota (needs root)")
    code = (
        "from model.training.threads import machine_threads; import torch, json; "
        "r = machine_threads('auto', 'cpu'); print(json.dumps([r.cpu_limit, r.usable_cpus, torch.get_num_threads()]))"
    )
    try:
        result = subprocess.run(
            in_cgroup(group, [sys.executable, "-c", code]),
            env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "4"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        remove_cgroup(group)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [0.5, 1, 1]
