from __future__ import annotations

import pytest
import torch

from model.attention import (
    CausalBlock,
    CausalSelfAttention,
    attention_kl,
    causal_prior,
    lattice_distances,
)
from model.rope import CausalRoPE, lattice_positions
from tests.model.conftest import assert_finite_nonzero_grads


def _angles(rope: CausalRoPE, tokens: int, zero: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(5)
    adjacency = torch.rand(tokens - 1, tokens - 1, generator=generator) * (1 - torch.eye(tokens - 1))
    positions = lattice_positions(adjacency, rope.n_dims)
    positions = torch.cat([positions.new_zeros(1, rope.n_dims), positions])
    return rope.angles(positions * (0 if zero else 1))


@pytest.mark.parametrize("with_rope", [True, False])
def test_fused_and_weights_paths_agree(with_rope: bool) -> None:
    torch.manual_seed(0)
    rope = CausalRoPE(8, 2)
    attention = CausalSelfAttention(16, 2, rope)
    h = torch.randn(4, 7, 16)
    cos, sin = _angles(rope, 7, zero=not with_rope)
    fused, none = attention(h, cos, sin, need_weights=False)
    explicit, weights = attention(h, cos, sin, need_weights=True)
    assert none is None
    assert weights is not None and weights.shape == (4, 2, 7, 7)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(4, 2, 7))
    torch.testing.assert_close(fused, explicit, rtol=1e-5, atol=1e-6)


def test_fused_and_weights_paths_agree_in_train_mode_and_gradients() -> None:
    torch.manual_seed(0)
    rope = CausalRoPE(8, 2)
    block = CausalBlock(16, 2, rope, mlp_ratio=2.0, dropout=0.0).train()
    h = torch.randn(3, 7, 16)
    cos, sin = _angles(rope, 7)
    fused, _ = block(h, cos, sin, need_weights=False)
    explicit, weights = block(h, cos, sin, need_weights=True)
    assert fused.shape == (3, 7, 16)
    torch.testing.assert_close(fused, explicit, rtol=1e-5, atol=1e-6)
    assert weights is not None
    (explicit.pow(2).sum() + weights.pow(2).sum()).backward()
    assert_finite_nonzero_grads(block)


def test_model_level_paths_agree(tiny_model, x_batch: torch.Tensor) -> None:
    tiny_model.eval()
    with torch.no_grad():
        fused = tiny_model(x_batch, dense=True)
        explicit = tiny_model(x_batch, dense=True, need_weights=True)
    torch.testing.assert_close(fused.logits, explicit.logits, rtol=1e-5, atol=1e-5)
    assert len(explicit.attentions) == tiny_model.config.n_blocks
    assert explicit.attentions[0].shape == (8, 2, 7, 7)


def test_lattice_distances_chain() -> None:
    chain = torch.zeros(5, 5)
    chain[0, 1] = chain[1, 2] = chain[2, 3] = 0.9  # node 4 is isolated
    distance = lattice_distances(chain, threshold=0.5)
    assert distance[0].tolist() == [0.0, 1.0, 2.0, 3.0, 5.0]
    # Symmetrised: the direction of an edge does not matter.
    assert torch.equal(distance, distance.T)


def test_causal_prior_rows_sum_to_one_and_favour_short_distances() -> None:
    chain = torch.zeros(5, 5)
    chain[0, 1] = chain[1, 2] = chain[2, 3] = 0.9
    prior = causal_prior(chain, threshold=0.5, temperature=1.0)
    torch.testing.assert_close(prior.sum(dim=-1), torch.ones(5))
    assert prior[0, 0] > prior[0, 1] > prior[0, 2] > prior[0, 3] > prior[0, 4]
    assert prior[2, 1] == pytest.approx(float(prior[2, 3]))
    # A lower temperature concentrates the prior on near neighbours.
    sharp = causal_prior(chain, threshold=0.5, temperature=0.25)
    assert sharp[0, 1] / sharp[0, 2] > prior[0, 1] / prior[0, 2]


def test_attention_kl_zero_when_attention_matches_prior() -> None:
    chain = torch.zeros(4, 4)
    chain[0, 1] = chain[1, 2] = 0.9
    prior = causal_prior(chain, threshold=0.5, temperature=1.0)
    attention = torch.zeros(2, 3, 5, 5)
    attention[..., 1:, 1:] = prior * 0.8
    attention[..., :, 0] = 0.2  # CLS column is dropped and rows renormalised
    attention[..., 0, :] = 0.2
    assert float(attention_kl(attention, prior)) == pytest.approx(0.0, abs=1e-6)
    uniform = torch.full((1, 1, 5, 5), 0.2)
    assert float(attention_kl(uniform, prior)) > 0
