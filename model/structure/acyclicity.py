"""Acyclicity of the lattice (SPEC §2.2): NOTEARS' h(A), zero exactly on a DAG (one matrix exponential per
step, gradient included), and the augmented-Lagrangian schedule that drives h to zero while the structure is
fitted (model/structure/fit.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from model.config import StructureConfig


class _TraceExp(torch.autograd.Function):
    """tr(exp(M)) with its gradient exp(M)ᵀ from the forward's own exponential: one matrix exponential per
    step instead of the block-matrix exponential autograd would differentiate through."""

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
    """
    n = adjacency.shape[0]
    squared = (adjacency * adjacency).double() / max(n - 1, 1)
    return (_TraceExp.apply(squared) - n).to(adjacency.dtype)


@dataclass
class AugmentedLagrangian:
    """The acyclicity schedule: penalty `α·h + ρ/2·h²`; after every round α grows by ρ·h, and ρ grows when
    h did not shrink enough (NOTEARS / DCDI)."""

    rho: float
    alpha: float = 0.0
    last_h: float = math.inf

    def penalty(self, h: torch.Tensor) -> torch.Tensor:
        return self.alpha * h + 0.5 * self.rho * h * h

    def update(self, h: float, config: StructureConfig) -> None:
        if h > config.rho_progress * self.last_h:
            self.rho = min(self.rho * config.rho_growth, config.rho_max)
        self.alpha += self.rho * h
        self.last_h = h
