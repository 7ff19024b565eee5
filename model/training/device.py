"""Where and how a training computes: the device it runs on, its seeds, torch's numeric settings and gradient
clipping with per-parameter norms (used by model/training/trainer.py)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from model.errors import DeviceUnavailableError


def resolve_device(requested: str) -> torch.device:
    """`auto` picks CUDA when available; asking for `cuda` without a GPU is an error, not a silent fallback."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"train.device is 'cuda' but torch sees no CUDA device on {socket.gethostname()} (torch "
            f"{torch.__version__}, built for CUDA {torch.version.cuda or 'none'}): run the trainings on a GPU node "
            "(their steps' settings.resources.gpu_count: 1 and a GPU node selector, zenml_config.yaml), or set "
            "train.device: auto to fall back to the CPU"
        )
    return torch.device(requested)


def resolve_world_size(devices: int | str, device: torch.device, launched: int | None = None) -> int:
    """How many data-parallel ranks a training runs (`train.devices`): in a group torchrun started (`launched`
    ranks), that group's size; on CUDA one rank per GPU, `auto` every GPU torch sees, more than it sees an
    error; on the CPU `devices` gloo ranks, `auto` one."""
    if launched is not None and launched > 1:
        return launched
    if device.type != "cuda":
        return 1 if devices == "auto" else int(devices)
    available = torch.cuda.device_count()
    if devices == "auto":
        return available
    if int(devices) > available:
        raise DeviceUnavailableError(
            f"train.devices is {devices} but torch sees {available} CUDA device(s) on {socket.gethostname()}: "
            "give the training steps' pods that many GPUs (settings.resources.gpu_count, zenml_config.yaml), "
            "or set train.devices to at most the GPUs there are (auto: all of them)"
        )
    return int(devices)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def numerics_for(device: torch.device) -> Iterator[None]:
    """torch's global numeric settings for one training, restored afterwards. On the CPU, the reference,
    deterministic kernels only (bit-identical reruns). On CUDA, TF32 for the float32 products (the structure
    phase) and the fast kernels: the memory-efficient attention's backward, for one, has no deterministic
    version, and forcing deterministic scatters costs throughput at width."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    precision = torch.get_float32_matmul_precision()
    torch.use_deterministic_algorithms(device.type == "cpu")
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic)
        torch.set_float32_matmul_precision(precision)


def clip_and_measure(parameters: list[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Clip the gradients to a total norm of `max_norm` and return each parameter's norm before clipping (zero
    where a parameter got no gradient), all on the device: one fused norm kernel, no host sync."""
    grads = [p.grad for p in parameters]
    present = [g for g in grads if g is not None]
    norms = iter(torch._foreach_norm(present))  # the fused per-tensor norm clip_grad_norm_ uses itself
    per_parameter = torch.stack(
        [
            next(norms).float() if g is not None else present[0].new_zeros((), dtype=torch.float32)
            for g in grads
        ]
    )
    torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, per_parameter.norm())
    return per_parameter


# What the compiled blocks keep for the backward pass with every intermediate saved (bf16 autocast): bytes per
# token, channel and block. Measured: 0.33 GiB per sample at F = 4,096, d 256, 8 blocks on an H100
# (bench/width_memory.py; docs/science.md, "Width on one GPU").
SAVED_BYTES_PER_TOKEN_CHANNEL_BLOCK = 42
# The budget at width: the compiled blocks keep the matrix products' and attention's outputs and recompute the
# elementwise work in the backward (0.10 GiB per sample at F = 4,096 instead of 0.33).
RECOMPUTING_BUDGET = 0.1


def activation_memory_budget(
    batch: int, tokens: int, d_model: int, n_blocks: int, device_bytes: int
) -> float:
    """The compiled blocks' activation memory budget (`torch._functorch.config.activation_memory_budget`).

    1.0, every intermediate the backward reads saved (the fastest), while one step's saved activations take at
    most half the device's memory; else `RECOMPUTING_BUDGET`, which trades about a sixth of the step's speed
    for a third of the memory (docs/science.md, "Width on one GPU").

    Args:
        batch (int): samples per step.
        tokens (int): tokens per sample ([CLS] + F).
        d_model (int): token width d.
        n_blocks (int): causal blocks.
        device_bytes (int): the device's total memory.

    Returns:
        float: the budget, in (0, 1].
    """
    saved = SAVED_BYTES_PER_TOKEN_CHANNEL_BLOCK * batch * tokens * d_model * n_blocks
    return 1.0 if saved <= device_bytes // 2 else RECOMPUTING_BUDGET
