"""V-REx (SPEC §2.9): the variance of the task risk across cohorts and its annealed weight. Used by the
predictor's loss and by the linear readout's logistic start (model/readout.py)."""

from __future__ import annotations

import torch

from model.config import TrainConfig


def group_risk_variance(per_sample_loss: torch.Tensor, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """V-REx: the variance of the mean task risk across the groups present in the batch (vectorised)."""
    # index_add, not bincount: bincount reads the largest code back to the host on CUDA (a sync per step).
    zeros = torch.zeros(n_groups, dtype=per_sample_loss.dtype, device=per_sample_loss.device)
    counts = zeros.index_add(0, groups, torch.ones_like(per_sample_loss))
    sums = zeros.index_add(0, groups, per_sample_loss)
    present = counts > 0
    risks = sums / counts.clamp_min(1)
    mean = (risks * present).sum() / present.sum().clamp_min(1)
    return ((risks - mean).pow(2) * present).sum() / present.sum().clamp_min(1)


def invariance_weight(config: TrainConfig, epoch: int) -> float:
    """The V-REx weight at `epoch` (1-based): 0 during the warm-up, then a linear ramp up to `invariance`."""
    progress = (epoch - config.invariance_warmup_epochs) / max(config.invariance_ramp_epochs, 1)
    return config.invariance * min(max(progress, 0.0), 1.0)
