"""Candidate edges at width (model/structure/candidates.py) and the structure phase restricted to them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.config import StructureConfig
from model.structure.candidates import candidate_pairs
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


def test_candidates_are_the_same_in_chunks(monkeypatch) -> None:
    x = torch.randn(300, 12, generator=torch.Generator().manual_seed(0))
    whole = candidate_pairs(x, 3)
    monkeypatch.setattr("model.structure.candidates._SCREEN_CHUNK_ELEMENTS", 300 * 6 * 5)
    assert torch.equal(candidate_pairs(x, 3), whole)


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
