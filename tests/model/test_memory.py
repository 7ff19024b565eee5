"""The limits the memory check counts (model/training/memory.py), read from stand-in /proc and cgroup folders, and the
check taking the tightest of them (`model/training/memory.py`: `check_memory`)."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import pytest

from model.config import ExperimentConfig
from model.data.tables import Dataset
from model.errors import DataValidationError
from model.training.memory import MemoryLimit, check_memory, process_memory_limits, read_memory_limits

GIB = 1 << 30


def _proc(tmp_path: Path, available_kib: int = 16 * GIB // 1024, mapped_kib: int = GIB // 1024) -> Path:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: 33554432 kB\nMemAvailable: {available_kib} kB\n")
    (proc / "self" / "status").write_text(f"Name: python\nVmPeak: 9 kB\nVmSize: {mapped_kib} kB\n")
    return proc


def _cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return root


def _free(limits: list[MemoryLimit]) -> dict[str, int]:
    return {limit.what.split(" (")[0]: limit.free for limit in limits}


def test_machine_only(tmp_path: Path) -> None:
    limits = read_memory_limits({}, resource.RLIM_INFINITY, _proc(tmp_path), tmp_path / "no-cgroup")
    assert _free(limits) == {"available on this machine": 16 * GIB}


def test_cgroup_v2_limit_less_its_usage(tmp_path: Path) -> None:
    cgroup = _cgroup(tmp_path, {"memory.max": str(8 * GIB), "memory.current": str(3 * GIB)})
    limits = read_memory_limits({}, resource.RLIM_INFINITY, _proc(tmp_path), cgroup)
    assert _free(limits)["free under the cgroup memory limit"] == 5 * GIB
    assert "v2 memory.max 8.0 GiB" in limits[1].what


def test_cgroup_v2_max_and_v1_unlimited_are_no_limit(tmp_path: Path) -> None:
    proc = _proc(tmp_path)
    for files in (
        {"memory.max": "max", "memory.current": "1"},
        {"memory/memory.limit_in_bytes": "9223372036854771712", "memory/memory.usage_in_bytes": "1"},
    ):
        cgroup = _cgroup(tmp_path / str(len(files)), files)
        assert len(read_memory_limits({}, resource.RLIM_INFINITY, proc, cgroup)) == 1


def test_cgroup_v1_limit(tmp_path: Path) -> None:
    files = {"memory/memory.limit_in_bytes": str(4 * GIB), "memory/memory.usage_in_bytes": str(GIB)}
    limits = read_memory_limits({}, resource.RLIM_INFINITY, _proc(tmp_path), _cgroup(tmp_path, files))
    assert _free(limits)["free under the cgroup memory limit"] == 3 * GIB and "v1" in limits[1].what


def test_address_space_limit_less_what_is_mapped(tmp_path: Path) -> None:
    limits = read_memory_limits({}, 6 * GIB, _proc(tmp_path, mapped_kib=2 * GIB // 1024), tmp_path / "none")
    assert _free(limits)["free under the address-space limit"] == 4 * GIB
    assert "ulimit -v / RLIMIT_AS 6.0 GiB, 2.0 GiB mapped" in limits[1].what


def test_the_override_replaces_the_machine_not_the_address_space(tmp_path: Path) -> None:
    cgroup = _cgroup(tmp_path, {"memory.max": str(GIB), "memory.current": "0"})
    environment = {"CAUSAL_LATTICE_MEMORY_BYTES": str(64 * GIB)}
    limits = read_memory_limits(environment, 6 * GIB, _proc(tmp_path), cgroup)
    assert _free(limits) == {
        "set by CAUSAL_LATTICE_MEMORY_BYTES": 64 * GIB,
        "free under the address-space limit": 5 * GIB,
    }


def test_this_process_has_at_least_its_machines_figure() -> None:
    assert any("MemAvailable" in limit.what for limit in process_memory_limits({}))


def _wide(features: int) -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(
        features=rng.normal(size=(200, features)).astype(np.float32),
        feature_names=[f"g{i}" for i in range(features)],
        labels=(rng.random(200) > 0.5).astype(np.int64),
        groups=None,
        class_names=["0", "1"],
        name="wide",
    )


def test_the_check_names_the_tightest_limit() -> None:
    dataset, experiment = _wide(2000), ExperimentConfig()
    roomy = MemoryLimit(64 * GIB, "available on this machine (MemAvailable)")
    check_memory(dataset, experiment, [roomy])
    check_memory(dataset, experiment, [])  # nothing known: nothing refused
    tight = MemoryLimit(
        GIB, "free under the address-space limit (ulimit -v / RLIMIT_AS 2.0 GiB, 1.0 GiB mapped)"
    )
    with pytest.raises(DataValidationError, match=r"1\.0 GiB is free under the address-space limit") as error:
        check_memory(dataset, experiment, [roomy, tight])
    assert "train.structure.mask_samples (4)" in str(error.value)
