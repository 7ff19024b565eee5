"""The baseline of bench/gpu_scaling.py, a plain pre-LN transformer encoder over the same feature tokens,
with its FLOP count and its timed training epoch; and the device helpers the timings of both models use
(synchronise, peak memory, a matrix-product peak for MFU)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from model.data.splits import DataSplit
from model.nn.tokenizer import FeatureTokenizer


class PlainEncoder(nn.Module):
    """The baseline: feature tokens + [CLS] through PyTorch's pre-LN TransformerEncoder, a linear head."""

    def __init__(self, n_features: int, d_model: int, heads: int, blocks: int, mlp_ratio: float) -> None:
        super().__init__()
        self.tokenizer = FeatureTokenizer(n_features, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, int(d_model * mlp_ratio), dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.encoder(self.tokenizer(x)))[:, 0])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device) -> float:
    """FLOP/s of a large matrix product (bf16 on CUDA, fp32 on the CPU), the mean of ten after warm-ups."""
    size, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (1024, torch.float32)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    started = time.perf_counter()
    for _ in range(10):
        a @ b
    sync(device)
    return 10 * 2 * size**3 / (time.perf_counter() - started)


def peak_memory(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def plain_flops_per_sample(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / x.shape[0]


def time_plain(
    split: DataSplit, args: argparse.Namespace, device: torch.device, compiled: bool, batch: int
) -> dict[str, Any]:
    torch.manual_seed(0)
    model = PlainEncoder(split.train.n_features, args.d_model, args.heads, args.blocks, 2.0).to(device)
    step_model: Callable[[torch.Tensor], torch.Tensor] = torch.compile(model) if compiled else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.from_numpy(split.train.features).to(device)
    y = torch.from_numpy(split.train.labels).to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    flops = plain_flops_per_sample(model, x[:batch], y[:batch]) if not compiled else None
    reset_peak(device)
    seconds = []
    for _ in range(1 + args.timed_epochs):  # a warm-up epoch (compilation), then the timed ones
        sync(device)
        started = time.perf_counter()
        for index in torch.randperm(x.shape[0], device=device).split(batch):
            with autocast:
                loss = F.cross_entropy(step_model(x[index]).float(), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync(device)
        seconds.append(time.perf_counter() - started)
    return epoch_timing(x.shape[0], seconds) | {
        "peak_memory_gib": peak_memory(device),
        "flops_per_sample": flops,
    }


def epoch_timing(rows: int, seconds: list[float]) -> dict[str, Any]:
    """samples/s of the median timed epoch (`seconds` = the warm-up epoch, then the timed ones): one epoch of
    ten steps is too short to trust alone (the plain compiled encoder's took 0.16 s to 0.27 s between runs on
    one H200 at F = 256)."""
    timed = sorted(seconds[1:])
    return {
        "samples_per_s": rows / timed[len(timed) // 2],
        "warmup_epoch_s": seconds[0],
        "epoch_s": seconds[1:],
    }
