"""Candidate edges at width (model/structure/candidates.py) and the structure phase restricted to them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.config import StructureConfig
from model.structure.candidates import candidate_pairs, ridge_precision, screen_association
from model.structure.equations import StructuralEquationModel
from model.structure.fit import fit_structure


def _chain_and_noise(n: int = 800) -> torch.Tensor:
    """a -> b (through a square: no linear correlation) -> c, and d unrelated; standardised (n, 4)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=n)
    b = a * a - 1.0 + 0.3 * rng.normal(size=n)
    c = np.tanh(b) + 0.3 * rng.normal(size=n)
    d = rng.normal(size=n)
    data = np.stack([a, b, c, d], axis=1)
    return torch.tensor((data - data.mean(0)) / data.std(0), dtype=torch.float32)


def test_candidates_find_a_parent_through_the_basis_and_are_symmetric() -> None:
    x = _chain_and_noise()
    assert abs(float((x[:, 0] * x[:, 1]).mean())) < 0.1  # a and b are linearly uncorrelated
    kept = candidate_pairs(x, 1)
    assert kept[0, 1] and kept[1, 0] and kept[1, 2] and kept[2, 1]
    assert torch.equal(kept, kept.T) and not kept.diagonal().any()
    assert int(kept[3].sum()) == 1  # d keeps one partner, whichever is least unrelated
    assert torch.equal(candidate_pairs(x, 3), ~torch.eye(4, dtype=torch.bool))


@pytest.mark.parametrize("rows", [40, 12])
def test_ridge_precision_is_the_inverse_with_more_columns_than_rows_too(rows: int) -> None:
    """Directly (rows ≥ columns) and through the Woodbury identity (fewer rows): the same P as inverting."""
    z = torch.randn(rows, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = torch.linalg.inv(z.T @ z / rows + 0.1 * torch.eye(20, dtype=torch.float64))
    leading, diagonal = ridge_precision(z, 7, 0.1)
    assert leading.shape == (20, 7) and diagonal.shape == (20,)
    torch.testing.assert_close(leading, expected[:, :7])
    torch.testing.assert_close(diagonal, expected.diagonal())


def test_the_screen_links_parent_and_children_but_not_siblings_or_grandparents() -> None:
    """a -> b, a -> c, c -> e: b and c (siblings) and a and e (grandparent) correlate strongly, but hardly given
    the others (the ridge leaves a little of the marginal correlation); the direct links stay strong."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=3000)
    b = a + 0.4 * rng.normal(size=3000)
    c = a + 0.4 * rng.normal(size=3000)
    e = c + 0.4 * rng.normal(size=3000)
    data = np.stack([a, b, c, e], axis=1)
    x = torch.tensor((data - data.mean(0)) / data.std(0), dtype=torch.float32)
    marginal = (x.T @ x / len(x)).abs()
    assert marginal[1, 2] > 0.8 and marginal[0, 3] > 0.8
    association = screen_association(x)
    assert torch.equal(association, association.T)
    indirect = max(association[1, 2], association[0, 3])
    assert indirect < 0.25 * min(marginal[1, 2], marginal[0, 3])
    assert min(association[0, 1], association[0, 2], association[2, 3]) > 2 * indirect


def test_candidates_need_at_least_one_per_feature() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        candidate_pairs(torch.zeros(10, 3), 0)


def test_the_structure_phase_learns_only_candidate_edges_and_still_finds_the_chain() -> None:
    x = _chain_and_noise()
    groups = torch.zeros(x.shape[0], dtype=torch.long)
    torch.manual_seed(0)
    sem = StructuralEquationModel(4, 0, 1)
    config = StructureConfig(steps_per_round=100, min_rounds=6, max_rounds=20, candidate_parents=1)
    fit_structure(sem, x, None, groups, config, 0.5, torch.Generator().manual_seed(0))
    adjacency = sem.adjacency().detach()
    excluded = ~candidate_pairs(x, 1) & ~torch.eye(4, dtype=torch.bool)
    assert float(adjacency[excluded].max()) < 1e-12  # never moved off the excluded start
    assert adjacency[0, 1] >= 0.5 and adjacency[1, 2] >= 0.5
