"""How much memory this process may still use, and whether a training fits in it.

The limits: the machine's MemAvailable, the cgroup's memory limit (v2 `memory.max`, v1
`memory.limit_in_bytes`: a Kubernetes or Docker limit), and the address-space limit (`ulimit -v`, RLIMIT_AS,
which HPC schedulers set). `read_memory_limits` reads them once, at the front door, from the paths and values
it is given; `check_memory` compares the training's estimated peak (`estimate_training_bytes`) with the
tightest of them, so it reads nothing itself and is tested with any limits.
"""

from __future__ import annotations

import resource
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from model.config import ExperimentConfig, ModelConfig, TrainConfig
from model.data.tables import Dataset
from model.errors import DataValidationError

# cgroup v1 writes "no limit" as a page-rounded 2^63; anything this large is no limit.
NO_LIMIT = 1 << 60
ENV_MEMORY_BYTES = "CAUSAL_LATTICE_MEMORY_BYTES"


@dataclass(frozen=True)
class MemoryLimit:
    """Bytes still free under one limit, and how to name that limit to a user."""

    free: int
    what: str


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_available(proc: Path) -> MemoryLimit | None:
    try:
        lines = (proc / "meminfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("MemAvailable:"):
            return MemoryLimit(int(line.split()[1]) * 1024, "available on this machine (MemAvailable)")
    return None


def _cgroup_free(cgroup: Path) -> MemoryLimit | None:
    for limit_file, usage_file, version in (
        ("memory.max", "memory.current", "v2 memory.max"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "v1 memory.limit_in_bytes"),
    ):
        limit, used = _read_int(cgroup / limit_file), _read_int(cgroup / usage_file)
        if limit is not None and limit < NO_LIMIT:
            return MemoryLimit(
                max(limit - (used or 0), 0),
                f"free under the cgroup memory limit ({version} {limit / 2**30:.1f} GiB, "
                f"{(used or 0) / 2**30:.1f} GiB in use)",
            )
    return None


def _address_space_free(proc: Path, soft_limit: int) -> MemoryLimit | None:
    if soft_limit == resource.RLIM_INFINITY or soft_limit >= NO_LIMIT:
        return None
    in_use = 0
    try:
        for line in (proc / "self" / "status").read_text().splitlines():
            if line.startswith("VmSize:"):
                in_use = int(line.split()[1]) * 1024
    except OSError:
        pass
    return MemoryLimit(
        max(soft_limit - in_use, 0),
        f"free under the address-space limit (ulimit -v / RLIMIT_AS {soft_limit / 2**30:.1f} GiB, "
        f"{in_use / 2**30:.1f} GiB mapped)",
    )


def read_memory_limits(
    environment: Mapping[str, str],
    address_space_limit: int,
    proc: Path = Path("/proc"),
    cgroup: Path = Path("/sys/fs/cgroup"),
) -> list[MemoryLimit]:
    """Every limit on this process's memory that can be read, in bytes still free under it.

    `environment`'s CAUSAL_LATTICE_MEMORY_BYTES, when set, replaces the machine's and the cgroup's figures (the
    memory of the machine the training will run on); the address-space limit (`address_space_limit`, the soft
    RLIMIT_AS of this process) holds for this process either way."""
    override = environment.get(ENV_MEMORY_BYTES, "")
    if override.isdigit():
        limits = [MemoryLimit(int(override), f"set by {ENV_MEMORY_BYTES}")]
    else:
        limits = [found for found in (_meminfo_available(proc), _cgroup_free(cgroup)) if found is not None]
    address_space = _address_space_free(proc, address_space_limit)
    return limits + ([address_space] if address_space is not None else [])


def process_memory_limits(environment: Mapping[str, str]) -> list[MemoryLimit]:
    """`read_memory_limits` for this process: its own RLIMIT_AS, the real /proc and cgroup files."""
    return read_memory_limits(environment, resource.getrlimit(resource.RLIMIT_AS)[0])


def estimate_training_bytes(
    n_rows: int, n_features: int, n_classes: int, model: ModelConfig, train: TrainConfig
) -> int:
    """Peak memory of one training (float32), from its largest tensors; the two phases run one after the other.

    Structure phase: `mask_samples` gated copies of the (6F+C) x N mechanism weights with their gradients,
    and the sampled (S, N, N) masks. Predictor: the token states of a batch, about 50 floats per token, row,
    width and block with autograd (fitted to the peak RSS of trainings at F = 100..1600, docs/reliability.md).
    Beside both: the (N, N) lattice buffers and the data."""
    nodes = n_features + (1 if n_classes else 0)
    samples = train.structure.mask_samples
    structure = 4 * samples * (6 * n_features + n_classes) * nodes + 5 * samples * nodes * nodes
    batch = min(train.batch_size, n_rows)
    predictor = 50 * model.n_blocks * batch * (n_features + 1) * model.d_model
    floats = max(structure, predictor) + 10 * nodes * nodes + n_rows * n_features
    return 4 * floats + (600 << 20)  # plus the interpreter, torch and ZenML


def check_memory(dataset: Dataset, experiment: ExperimentConfig, limits: list[MemoryLimit]) -> None:
    """Refuse, up front, a training that would not fit under the tightest of `limits` (model/training/memory.py: the
    machine, the cgroup, the address space): the estimate, the limit, what to change."""
    needed = estimate_training_bytes(
        dataset.features.shape[0], dataset.n_features, dataset.n_classes, experiment.model, experiment.train
    )
    tightest = min(limits, key=lambda limit: limit.free, default=None)
    if tightest is not None and needed > tightest.free:
        raise DataValidationError(
            f"training on {dataset.n_features} features needs about {needed / 2**30:.1f} GiB and "
            f"{tightest.free / 2**30:.1f} GiB is {tightest.what}: select fewer features (data.feature_columns), "
            f"or lower train.structure.mask_samples ({experiment.train.structure.mask_samples}) and "
            f"train.batch_size ({experiment.train.batch_size}), or run with more memory"
        )
