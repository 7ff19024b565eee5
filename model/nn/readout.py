"""The predictor's linear readout of the readable features, and the V-REx risk variance across cohorts.

The readout is fitted before the transformer trains, as an L2-regularised logistic regression on the readable
features (their values times the readable mask, so a descendant's value never enters); the transformer then
trains on top of it. It is there because it extrapolates to a cohort whose causes are shifted where the
layer-normalised transformer cannot: docs/science.md, "Design in one page" ("A linear readout beside the head").
"""

from __future__ import annotations

import torch
from torch.nn import functional

__all__ = ["fit_linear_readout", "group_risk_variance"]


def fit_linear_readout(
    x: torch.Tensor,
    y: torch.Tensor,
    readable: torch.Tensor,
    n_classes: int,
    groups: torch.Tensor | None = None,
    invariance: float = 0.0,
    max_iter: int = 100,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression of `y` on `x * readable`: the readout's starting weights.

    The L2 penalty is scikit-learn's default (C = 1): ½‖W‖² over the summed loss. With `groups`, the mean risk
    also carries `invariance` times the V-REx variance of the cohorts' risks, as the predictor's loss does: the
    readout starts where that loss would take it, not at the pooled fit. Full-batch L-BFGS in float64 on `x`'s
    device: one (N, F) matrix product per iteration, no per-feature loop.

    Args:
        x (torch.Tensor): standardised features, shape (N, F).
        y (torch.Tensor): class indices, shape (N,).
        readable (torch.Tensor): the features the prediction may read (bool or 0/1), shape (F,).
        n_classes (int): the number of classes C.
        groups (torch.Tensor | None): cohort codes, shape (N,).
        invariance (float): the weight of the V-REx term (used with `groups` only).
        max_iter (int): L-BFGS iterations.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: weights (C, F) and intercept (C,), in `x`'s dtype; an unreadable
        feature's weight column is zero.
    """
    inputs = x.detach().double() * readable
    weight = x.new_zeros(n_classes, inputs.shape[1], dtype=torch.float64, requires_grad=True)
    intercept = x.new_zeros(n_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, intercept], max_iter=max_iter, line_search_fn="strong_wolfe")
    penalty = 0.5 / inputs.shape[0]
    n_groups = int(groups.max()) + 1 if groups is not None else 1  # read once, not once per evaluation

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        per_sample = functional.cross_entropy(inputs @ weight.T + intercept, y, reduction="none")
        loss = per_sample.mean() + penalty * weight.square().sum()
        if groups is not None and invariance > 0:
            loss = loss + invariance * group_risk_variance(per_sample, groups, n_groups)
        loss.backward()
        return loss

    with torch.enable_grad():  # callers may hold no_grad: the fit needs its own gradients
        optimizer.step(closure)
    return weight.detach().to(x.dtype), intercept.detach().to(x.dtype)


def group_risk_variance(per_sample_loss: torch.Tensor, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """V-REx (Krueger et al. 2021): the variance of the mean task risk across the groups present in the batch.

    Vectorised: two `index_add`s, no loop over groups; a group with no sample in the batch does not count.

    Args:
        per_sample_loss (torch.Tensor): each sample's task loss, shape (B,).
        groups (torch.Tensor): each sample's cohort code in [0, n_groups), shape (B,).
        n_groups (int): the number of cohort codes.

    Returns:
        torch.Tensor: the variance of the per-group mean losses, a scalar.
    """
    # index_add, not bincount: bincount reads the largest code back to the host on CUDA (a sync per step).
    zeros = torch.zeros(n_groups, dtype=per_sample_loss.dtype, device=per_sample_loss.device)
    counts = zeros.index_add(0, groups, torch.ones_like(per_sample_loss))
    sums = zeros.index_add(0, groups, per_sample_loss)
    present = counts > 0
    risks = sums / counts.clamp_min(1)
    mean = (risks * present).sum() / present.sum().clamp_min(1)
    return ((risks - mean).pow(2) * present).sum() / present.sum().clamp_min(1)
