"""One epoch's batches of row indices (shuffled, or balanced over cohorts for V-REx), the cohort codes they
are drawn by, and a dataset as tensors (used by model/training/trainer.py)."""

from __future__ import annotations

import math

import numpy as np
import torch

from model.data.tables import Dataset


def group_codes(dataset: Dataset) -> tuple[np.ndarray, list[str]]:
    """Integer cohort codes (0 everywhere without a group column) and the cohort names, sorted."""
    if dataset.groups is None:
        return np.zeros(dataset.features.shape[0], dtype=np.int64), []
    names, codes = np.unique(dataset.groups, return_inverse=True)
    return codes.astype(np.int64), [str(name) for name in names]


def _tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = torch.from_numpy(np.ascontiguousarray(dataset.features, dtype=np.float32))
    y = torch.from_numpy(dataset.labels) if dataset.labels is not None else None
    return x, y


def balanced_batches(codes: np.ndarray, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch of batches with (nearly) equal rows from every cohort: V-REx compares cohort risks, so each
    batch must hold every cohort. Smaller cohorts are revisited in a fresh order when they run out."""
    cohorts = [torch.from_numpy(np.flatnonzero(codes == c)) for c in np.unique(codes)]
    batch_size = min(batch_size, len(codes))  # a batch beyond the rows is the whole table, not rows repeated
    n_batches = max(1, math.ceil(len(codes) / batch_size))
    share = [batch_size // len(cohorts) + (k < batch_size % len(cohorts)) for k in range(len(cohorts))]
    streams = []
    for rows, take in zip(cohorts, share, strict=True):
        needed = n_batches * take
        repeats = math.ceil(needed / len(rows))
        order = torch.cat([rows[torch.randperm(len(rows), generator=generator)] for _ in range(repeats)])
        streams.append(order[:needed].view(n_batches, take))
    return list(torch.cat(streams, dim=1).unbind(0))


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch of shuffled batches; a trailing batch of one row is folded into the previous one (batch
    statistics need two rows)."""
    batches = list(torch.randperm(n, generator=generator).split(batch_size))
    if len(batches) > 1 and batches[-1].numel() < 2:
        tail = batches.pop()
        batches[-1] = torch.cat([batches[-1], tail])
    return batches


def kl_query_rows(
    steps: int, n_features: int, count: int, device: torch.device, generator: torch.Generator
) -> list[torch.Tensor]:
    """One epoch's KL query rows: per step, `count` of the `n_features` features drawn without replacement and
    sorted, as token indices ([CLS] is token 0), copied to `device` in one go."""
    draws = [torch.randperm(n_features, generator=generator)[:count].sort().values for _ in range(steps)]
    return list((torch.stack(draws) + 1).to(device).unbind(0))


def feature_tensor(data: Dataset) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(data.features, dtype=np.float32))
