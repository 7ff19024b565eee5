"""Candidate edges for the structure phase at width (docs/science.md, "Structure learning at transcriptome scale").

With every ordered pair a candidate, each gene's mechanism starts from Bernoulli masks over a fifth of all other
genes (`init_probability` 0.2), about 200 random parents at F = 1,000: the first rounds fit noise and the true
edges never catch up. A screen keeps, for each gene, the genes most associated with it through the additive
basis of the structural equations; the structure phase then learns edges among those pairs only.
"""

from __future__ import annotations

import torch

from model.structure.equations import N_BASIS, additive_basis

__all__ = ["candidate_pairs"]

# Elements of one chunk of the basis, (rows, features, |φ|), while screening: 256 MiB in float32.
_SCREEN_CHUNK_ELEMENTS = 2**26


def _standardised(values: torch.Tensor) -> torch.Tensor:
    return (values - values.mean(dim=0)) / values.std(dim=0).clamp_min(1e-6)


def candidate_pairs(x: torch.Tensor, per_feature: int) -> torch.Tensor:
    """Pairs of features kept as candidate edges, in either direction: each feature's `per_feature` strongest.

    The association of feature i with feature j is the largest absolute correlation between x_j and any basis
    function φ_k(x_i) (`additive_basis`: the value and Gaussian bumps), so a parent that acts through a bump or a
    square counts too. Each feature keeps the `per_feature` features most associated with it, and a pair is a
    candidate when either of its two features kept the other. The screen is marginal: it also keeps ancestors
    further up and siblings, and on the issue-22 SCMs it keeps 89 % of the true edges at 20 per feature for
    F = 200 (docs/science.md).

    Args:
        x (torch.Tensor): standardised features, shape (n, F).
        per_feature (int): how many features each feature keeps, at least 1.

    Returns:
        torch.Tensor: a symmetric boolean matrix with a false diagonal, shape (F, F); every off-diagonal pair
        when `per_feature` ≥ F - 1.

    Raises:
        ValueError: `per_feature` is below 1.
    """
    if per_feature < 1:
        raise ValueError(f"per_feature must be at least 1, not {per_feature}")
    rows, width = x.shape
    off_diagonal = ~torch.eye(width, dtype=torch.bool, device=x.device)
    if per_feature >= width - 1:
        return off_diagonal
    targets = _standardised(x)
    association = x.new_zeros(width, width)  # [source, target]
    chunk = max(1, _SCREEN_CHUNK_ELEMENTS // (rows * N_BASIS))
    for start in range(0, width, chunk):
        basis = additive_basis(x[:, start : start + chunk])  # (n, chunk, |φ|)
        for k in range(basis.shape[2]):
            correlation = (_standardised(basis[:, :, k]).T @ targets / rows).abs()
            association[start : start + chunk] = torch.maximum(
                association[start : start + chunk], correlation
            )
    association = torch.maximum(association, association.T).masked_fill_(~off_diagonal, -1.0)
    kept = torch.zeros(width, width, dtype=torch.bool, device=x.device)
    kept.scatter_(0, association.topk(per_feature, dim=0).indices, True)
    return (kept | kept.T) & off_diagonal
