from __future__ import annotations

import pytest
import torch

from model.nn.rope import CausalRoPE, lattice_positions


def _scores(rope: CausalRoPE, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    cos, sin = rope.angles(positions)
    return CausalRoPE.rotate(q, cos, sin) @ CausalRoPE.rotate(k, cos, sin).transpose(-2, -1)


def test_angle_and_rotation_shapes() -> None:
    rope = CausalRoPE(head_dim=8, n_dims=2)
    cos, sin = rope.angles(torch.randn(7, 2))
    assert cos.shape == sin.shape == (7, 4)
    x = torch.randn(3, 2, 7, 8)
    assert CausalRoPE.rotate(x, cos, sin).shape == x.shape


def test_rotation_preserves_norm_and_zero_angle_is_identity() -> None:
    rope = CausalRoPE(head_dim=8, n_dims=2)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    cos, sin = rope.angles(torch.randn(5, 2, dtype=torch.float64))
    torch.testing.assert_close(CausalRoPE.rotate(x, cos, sin).norm(dim=-1), x.norm(dim=-1))
    cos0, sin0 = rope.angles(torch.zeros(5, 2, dtype=torch.float64))
    torch.testing.assert_close(CausalRoPE.rotate(x, cos0, sin0), x)


def test_scores_depend_only_on_position_offsets() -> None:
    torch.manual_seed(0)
    rope = CausalRoPE(head_dim=8, n_dims=2, base=10.0)
    rope.frequencies = rope.frequencies.double()
    q = torch.randn(2, 6, 8, dtype=torch.float64)
    k = torch.randn(2, 6, 8, dtype=torch.float64)
    positions = torch.randn(6, 2, dtype=torch.float64)
    base = _scores(rope, q, k, positions)
    shifted = _scores(rope, q, k, positions + torch.tensor([3.7, -1.2], dtype=torch.float64))
    torch.testing.assert_close(shifted, base, rtol=1e-10, atol=1e-10)
    # A non-uniform change of positions does change the scores.
    moved = positions.clone()
    moved[0] += 1.0
    assert not torch.allclose(_scores(rope, q, k, moved), base)


def test_head_dim_must_split_into_pairs_per_coordinate() -> None:
    with pytest.raises(ValueError, match="divisible"):
        CausalRoPE(head_dim=6, n_dims=2)


def _random_adjacency(seed: int, n: int = 6) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    adjacency = torch.rand(n, n, generator=generator)
    return adjacency * (1 - torch.eye(n))


def test_lattice_positions_deterministic_and_sign_fixed() -> None:
    adjacency = _random_adjacency(0)
    first = lattice_positions(adjacency, 2)
    second = lattice_positions(adjacency.clone(), 2)
    assert first.shape == (6, 2)
    assert first.dtype == adjacency.dtype
    assert torch.equal(first, second)
    # Sign convention: each coordinate's largest-magnitude entry is positive.
    pivot = first.abs().argmax(dim=0)
    assert (first[pivot, torch.arange(2)] > 0).all()
    # Relabelling the variables only permutes the rows: the sign does not depend on eigh's arbitrary choice.
    permutation = torch.tensor([3, 0, 5, 1, 4, 2])
    permuted = lattice_positions(adjacency[permutation][:, permutation], 2)
    torch.testing.assert_close(permuted, first[permutation], rtol=1e-5, atol=1e-5)


def test_lattice_positions_carry_no_gradient_and_pad_small_graphs() -> None:
    adjacency = _random_adjacency(1).requires_grad_(True)
    assert not lattice_positions(adjacency, 2).requires_grad
    tiny = _random_adjacency(2, n=2)
    positions = lattice_positions(tiny, 3)
    assert positions.shape == (2, 3)
    assert torch.equal(positions[:, 1:], torch.zeros(2, 2))
