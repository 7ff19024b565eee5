"""Acyclicity of the lattice (docs/design.md §2.2): NOTEARS' h(A) and the augmented-Lagrangian schedule.

h(A) (NOTEARS: Zheng et al. 2018) is zero exactly on a DAG and costs one matrix exponential per step, gradient
included; the schedule drives it to zero while the structure is fitted (model/structure/fit.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from model.config import StructureConfig

__all__ = ["AugmentedLagrangian", "notears_acyclicity"]


class _TraceExp(torch.autograd.Function):
    """tr(exp(M)) with its gradient exp(M)ᵀ from the forward's own exponential.

    One matrix exponential per step instead of the block-matrix exponential autograd would differentiate through.
    """

    @staticmethod
    def forward(ctx, matrix: torch.Tensor) -> torch.Tensor:
        exponential = torch.matrix_exp(matrix)
        ctx.save_for_backward(exponential)
        return exponential.diagonal().sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (exponential,) = ctx.saved_tensors
        return grad * exponential.T


def notears_acyclicity(adjacency: torch.Tensor) -> torch.Tensor:
    """h(A) = tr(exp(A ∘ A / (N - 1))) - N: zero exactly when the weighted graph has no directed cycle.

    NOTEARS' function of the adjacency scaled by 1/sqrt(N - 1): with edge probabilities in (0, 1) the spectral
    radius of the scaled A ∘ A stays below 1, so h stays below N(e - 1) however dense the lattice is and its
    gradient cannot swamp the likelihood early on; the augmented Lagrangian's ρ supplies the strength later.
    Evaluated in float64.

    Args:
        adjacency (torch.Tensor): edge probabilities A with a zero diagonal, shape (N, N).

    Returns:
        torch.Tensor: h(A) ≥ 0 in `adjacency`'s dtype, a scalar, differentiable in A.
    """
    n = adjacency.shape[0]
    squared = (adjacency * adjacency).double() / max(n - 1, 1)
    return (_TraceExp.apply(squared) - n).to(adjacency.dtype)


@dataclass
class AugmentedLagrangian:
    """The acyclicity schedule: penalty `α·h + ρ/2·h²`, with α and ρ updated after every round.

    After every round α grows by ρ·h, and ρ grows when h did not shrink enough (NOTEARS / DCDI).

    Attributes:
        rho (float): ρ, the quadratic penalty's weight.
        alpha (float): α, the Lagrange multiplier's estimate.
        last_h (float): h after the previous round (inf before the first).
    """

    rho: float
    alpha: float = 0.0
    last_h: float = math.inf

    def penalty(self, h: torch.Tensor) -> torch.Tensor:
        """The acyclicity term of the structure loss.

        Args:
            h (torch.Tensor): h(A) of `notears_acyclicity`, a scalar.

        Returns:
            torch.Tensor: α·h + ρ/2·h², a scalar.
        """
        return self.alpha * h + 0.5 * self.rho * h * h

    def update(self, h: float, config: StructureConfig) -> None:
        """End a round: grow ρ when h did not shrink enough, then grow α by ρ·h.

        ρ grows ×`rho_growth` (up to `rho_max`) unless h fell to `rho_progress` of its last value.

        Args:
            h (float): h(A) at the end of the round.
            config (StructureConfig): the schedule's `rho_progress`, `rho_growth` and `rho_max`.
        """
        if h > config.rho_progress * self.last_h:
            self.rho = min(self.rho * config.rho_growth, config.rho_max)
        self.alpha += self.rho * h
        self.last_h = h
