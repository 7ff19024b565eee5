"""Acyclicity of the lattice (docs/design.md §2.2): the spectral radius h(A) = ρ(A∘A) and its schedule.

A graph is a DAG exactly when its adjacency is nilpotent, i.e. when the spectral radius of A∘A is zero (SDCD:
Nazaret et al., ICML 2024). ρ and its gradient come from a few power-iteration steps warm-started from the last
step's left and right eigenvectors, so a step costs a few matrix-vector products: O(N²) time and memory, where
NOTEARS' trace exponential (used here before issue 22) costs O(N³). An augmented-Lagrangian schedule drives h
down while the structure is fitted (model/structure/fit.py), and rests once the thresholded graph is a DAG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from model.config import StructureConfig

__all__ = ["AugmentedLagrangian", "SpectralRadius"]

# Added to every entry of A∘A inside the power iteration only (as `ε·Σv`, no N×N tensor): it keeps the
# iterated matrix irreducible, so the eigenvectors stay positive and never vanish on a nilpotent (DAG) lattice.
_IRREDUCIBLE = 1e-8


def _normalised(vector: torch.Tensor) -> torch.Tensor:
    return vector / vector.norm()


class SpectralRadius:
    """h(A) = ρ(A ∘ A) by warm-started power iteration: zero exactly when the weighted graph has no cycle.

    Each call runs `iterations` power-iteration steps on A∘A (without gradient) from the previous call's right
    and left eigenvectors v and u, then returns `uᵀ(A∘A)v / uᵀv` with u and v held fixed: its value is ρ's
    estimate and its gradient in A∘A is `u vᵀ / uᵀv`, the derivative of a simple eigenvalue (SDCD's
    `PowerIterationGradient`). Edge probabilities are never exactly zero, so A∘A is positive off the diagonal
    and (Perron-Frobenius) ρ is a simple eigenvalue with positive eigenvectors. Unlike NOTEARS' h, ρ is not
    scaled by N: for a 2-cycle of probabilities p and q it is p·q, whatever the width.

    Args:
        n_nodes (int): N, the lattice's size.
        iterations (int): power-iteration steps per call.
        device (torch.device): where the eigenvectors live (the lattice's device).
    """

    def __init__(self, n_nodes: int, iterations: int, device: torch.device) -> None:
        self.iterations = iterations
        start = torch.full((n_nodes,), n_nodes**-0.5, device=device)
        self.right, self.left = start, start.clone()

    def __call__(self, adjacency: torch.Tensor) -> torch.Tensor:
        """ρ(A∘A) after `iterations` more power-iteration steps, differentiable in A.

        Args:
            adjacency (torch.Tensor): edge probabilities A with a zero diagonal, shape (N, N).

        Returns:
            torch.Tensor: h(A) ≥ 0, a scalar in A's dtype.
        """
        squared = adjacency * adjacency
        with torch.no_grad():
            matrix = squared.detach()
            right, left = self.right.to(matrix.dtype), self.left.to(matrix.dtype)
            for _ in range(self.iterations):
                right = _normalised(matrix @ right + _IRREDUCIBLE * right.sum())
                left = _normalised(left @ matrix + _IRREDUCIBLE * left.sum())
            self.right, self.left = right, left
        return left @ (squared @ right) / (left @ right)


@dataclass
class AugmentedLagrangian:
    """The acyclicity schedule: penalty `α·h + ρ/2·h²`, with α and ρ updated after every round with a cycle.

    After a round whose thresholded graph still has a cycle, α grows by ρ·h, and ρ grows when h did not shrink
    enough (NOTEARS / DCDI). After a round whose thresholded graph is a DAG both rest (SDCD freezes its penalty
    at a DAG the same way): h > 0 is then carried by edges under the threshold, and pushing them further only
    keeps the lattice moving, so that the fit never settles.

    Attributes:
        rho (float): ρ, the quadratic penalty's weight.
        alpha (float): α, the Lagrange multiplier's estimate.
        last_h (float): h after the previous update (inf before the first).
    """

    rho: float
    alpha: float = 0.0
    last_h: float = math.inf

    def penalty(self, h: torch.Tensor) -> torch.Tensor:
        """The acyclicity term of the structure loss.

        Args:
            h (torch.Tensor): h(A) of `SpectralRadius`, a scalar.

        Returns:
            torch.Tensor: α·h + ρ/2·h², a scalar.
        """
        return self.alpha * h + 0.5 * self.rho * h * h

    def update(self, h: float, is_dag: bool, config: StructureConfig) -> None:
        """End a round: unless the thresholded graph is a DAG, grow ρ when h did not shrink enough, then α by ρ·h.

        ρ grows ×`rho_growth` (up to `rho_max`) unless h fell to `rho_progress` of its last value.

        Args:
            h (float): h(A) at the end of the round.
            is_dag (bool): whether the thresholded graph is a DAG at the end of the round.
            config (StructureConfig): the schedule's `rho_progress`, `rho_growth` and `rho_max`.
        """
        if is_dag:
            return
        if h > config.rho_progress * self.last_h:
            self.rho = min(self.rho * config.rho_growth, config.rho_max)
        self.alpha += self.rho * h
        self.last_h = h
