"""The artifacts the pipeline passes between steps and registers: a trained model with its history, a training's summary, a protocol check's outcome and the promotion verdict."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from pydantic import BaseModel

from model.data.splits import DataView
from model.data.tables import Standardizer
from model.nn.transformer import CausalLatticeTransformer
from model.structure.equations import StructureFit


@dataclass
class EpochRecord:
    epoch: int
    loss: dict[str, float]
    train_accuracy: float | None
    utility_per_block: list[float]
    utility_entropy: float
    grad_norms: dict[str, float]  # mean L2 norm per parameter over the epoch's steps
    seconds: float


@dataclass
class FitResult:
    """What the optimisation loop returns: the fitted network and its per-epoch history (no test metrics,
    no standardisation: the training step packages those into a `TrainedModel`)."""

    model: CausalLatticeTransformer
    structure: StructureFit
    history: list[EpochRecord] = field(default_factory=list)

    def gradient_log(self) -> dict[str, list[float]]:
        """Per-parameter gradient norm per epoch of the predictor and, under `structure.<name>`, per round of the
        structure phase, for `logs/grad/*.json`."""
        names = self.history[0].grad_norms.keys() if self.history else []
        predictor = {name: [record.grad_norms[name] for record in self.history] for name in names}
        return predictor | {f"structure.{name}": values for name, values in self.structure.grad_norms.items()}


@dataclass
class TrainedModel:
    """The pipeline's `trained_model` artifact: the fitted network with everything needed to use and audit it,
    its training history, held-out test metrics, the `Standardizer` its inputs go through, and which data
    view and seed produced it."""

    model: CausalLatticeTransformer
    history: list[EpochRecord]
    test_metrics: dict[str, float]
    standardizer: Standardizer
    view: DataView
    seed: int
    n_train: int
    n_test: int
    structure: StructureFit
    runtime: RuntimeInfo | None = (
        None  # device, threads and torch it was trained with (model/training/threads.py)
    )


@dataclass
class ProtocolOutcome:
    """Measured numbers of one protocol step and its files (relative path under results/<run>/ -> bytes)."""

    metrics: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode()


def weights_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RunSummary:
    """What a training invocation contributes to the repro and subset protocols."""

    name: str
    seed: int
    view: DataView
    metrics: dict[str, float]
    weights_digest: str
    runtime: RuntimeInfo | None = None


def format_value(value: float, digits: int = 4) -> str:
    """A measured number as the tables print it: `n/a` when it is not finite."""
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


class PromotionGate(BaseModel):
    """One gate: the measured value, its threshold as text (`< 0.015`) and whether it holds.

    A gate that cannot be computed for this data (no cohorts: no cohort gap; no label: no accuracy) is not
    applicable: `value` None, `passed` False, and `reason` says why. It does not block promotion, and every table
    shows it as N/A with that reason, never as a pass. A failing gate's `reason` says what failed where the value
    alone does not (the leaking features)."""

    name: str
    value: float | None
    threshold: str
    passed: bool
    applicable: bool = True
    reason: str = ""

    @property
    def blocks(self) -> bool:
        return self.applicable and not self.passed

    @property
    def verdict(self) -> str:
        return "N/A" if not self.applicable else "PASS" if self.passed else "FAIL"

    def describe(self) -> str:
        value = "n/a" if self.value is None else format_value(self.value)
        why = f": {self.reason}" if self.reason else ""
        return f"{self.name}={value} (needs {self.threshold}){why}"


class PromotionVerdict(BaseModel):
    """All promotion gates of one run plus the numbers they were computed from (None where there is none)."""

    gates: list[PromotionGate]
    metrics: dict[str, float | None]

    @property
    def passed(self) -> bool:
        return not any(gate.blocks for gate in self.gates)


@dataclass(frozen=True)
class RuntimeInfo:
    """What a step ran on, recorded in its artifact and the report."""

    threads: int  # intra-op threads the numeric work used
    requested_threads: str  # train.threads as configured
    usable_cpus: int
    cpu_limit: float | None  # the cgroup's CPU quota, None without one
    torch_version: str
    device: str
    machine: str
    world_size: int = 1  # data-parallel ranks of a training (train.devices); 1 for every other step

    @property
    def limited_by_quota(self) -> bool:
        return self.requested_threads != "auto" and self.threads < int(self.requested_threads)

    def describe(self) -> str:
        limit = "no CPU limit" if self.cpu_limit is None else f"CPU limit {self.cpu_limit:g}"
        cut = (
            f", cut from train.threads={self.requested_threads} by the quota" if self.limited_by_quota else ""
        )
        return (
            f"{self.device}, {self.threads} intra-op thread(s) (train.threads={self.requested_threads}{cut}; "
            f"{self.usable_cpus} usable CPU(s), {limit}), world size {self.world_size}, torch "
            f"{self.torch_version}, {self.machine}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RuntimeInfo:
        return cls(**values)
