"""Causal attention: the prior, the lattice mask, the KL term and a block's gradients."""

from __future__ import annotations

import math

import pytest
import torch

from model.nn.attention import CausalBlock, attention_bias, attention_kl, causal_prior
from model.nn.message_passing import LatticeView
from model.nn.rope import CausalRoPE
from model.structure.graph_ops import hop_distances, transitive_closure
from tests.model.conftest import assert_finite_nonzero_grads


def _view(n: int, edges: list[tuple[int, int]], readable: list[bool]) -> LatticeView:
    linked = torch.zeros(n, n, dtype=torch.bool)
    for source, target in edges:
        linked[source, target] = True
    return LatticeView(
        adjacency=linked.float(),
        linked=linked,
        edge_index=torch.nonzero(linked).T,
        edge_weight=torch.ones(len(edges)),
        ancestors=transitive_closure(linked).T,
        attends=transitive_closure(linked).T,
        readable=torch.tensor(readable),
        distances=hop_distances(linked),
        is_dag=True,
    )


def test_prior_rows_sum_to_one_and_decay_with_distance() -> None:
    view = _view(4, [(0, 1), (1, 2)], [True] * 4)
    prior = causal_prior(view.distances, 1.0)
    torch.testing.assert_close(prior.sum(-1), torch.ones(4))
    assert prior[0, 0] > prior[0, 1] > prior[0, 2] > prior[0, 3]
    assert float(prior[0, 1] / prior[0, 2]) == pytest.approx(math.e)


def test_bias_masks_descendants_from_cls_and_non_ancestors_from_features() -> None:
    view = _view(3, [(0, 1), (1, 2)], [True, True, False])
    padded = attention_bias(view, causal_prior(view.distances, 1.0), 1.0)
    assert padded.shape == (4, 16)  # rows padded to a multiple of 16 for the fused kernel
    bias = padded[:, :4]
    allowed = torch.isfinite(bias)
    # [CLS] row: itself and the readable features f0, f1
    assert allowed[0].tolist() == [True, True, True, False]
    # f2 attends to itself and its ancestors f0, f1; f0 only to itself; no feature attends to [CLS]
    assert allowed[3].tolist() == [False, True, True, True]
    assert allowed[1].tolist() == [False, True, False, False]
    # log-prior on allowed feature pairs
    torch.testing.assert_close(bias[3, 1:], causal_prior(view.distances, 1.0)[2].log())
    assert torch.equal(attention_bias(view, causal_prior(view.distances, 1.0), 0.0)[3, 1:4], torch.zeros(3))


def test_kl_is_zero_at_the_prior_and_positive_elsewhere() -> None:
    prior = torch.softmax(torch.randn(5, 5), dim=-1)
    weights = torch.cat([torch.full((5, 1), 0.3), 0.7 * prior], dim=-1)  # a [CLS] column is dropped
    assert float(attention_kl(weights.expand(2, 3, 5, 6), prior)) < 1e-6
    uniform = torch.full((5, 6), 1 / 6)
    assert float(attention_kl(uniform, prior)) > 0


def test_block_gradients_and_rows() -> None:
    torch.manual_seed(0)
    rope = CausalRoPE(8, 2)
    block = CausalBlock(16, 2, mlp_ratio=2.0, dropout=0.0)
    view = _view(6, [(0, 1), (2, 3)], [True] * 6)
    bias = attention_bias(view, causal_prior(view.distances, 1.0), 1.0)
    cos, sin = rope.angles(torch.randn(7, 2))
    h = torch.randn(3, 7, 16)
    delta, weights = block(h, cos, sin, bias, torch.tensor([2, 5]))
    assert delta.shape == (3, 7, 16) and weights is not None and weights.shape == (3, 2, 2, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 2))
    (delta.pow(2).mean() + weights.pow(2).mean()).backward()
    assert_finite_nonzero_grads(block)
