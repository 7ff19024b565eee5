from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from model.config import LambdaConfig, TrainConfig
from model.lattice import notears_acyclicity
from model.losses import causal_lattice_loss, dirichlet_energy, group_risk_variance
from model.transformer import CausalLatticeTransformer


def test_dirichlet_energy_zero_for_equal_states_and_known_value() -> None:
    adjacency = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    same = torch.ones(3, 2, 4)
    assert float(dirichlet_energy(same, adjacency)) == 0.0
    states = torch.zeros(1, 2, 4)
    states[0, 1] = 1.0  # ||h_0 - h_1||^2 = 4, one edge of weight 1, d = 4
    assert float(dirichlet_energy(states, adjacency)) == pytest.approx(1.0)


def test_dirichlet_energy_does_not_move_the_lattice() -> None:
    adjacency = torch.rand(3, 3, requires_grad=True)
    states = torch.randn(2, 3, 4, requires_grad=True)
    dirichlet_energy(states, adjacency).backward()
    assert adjacency.grad is None
    assert states.grad is not None and states.grad.abs().sum() > 0


def test_group_risk_variance() -> None:
    losses = torch.tensor([1.0, 3.0, 2.0, 6.0])
    groups = torch.tensor([0, 0, 1, 1])
    # Group risks 2 and 4: population variance 1.
    assert float(group_risk_variance(losses, groups)) == pytest.approx(1.0)
    assert float(group_risk_variance(losses, torch.zeros(4, dtype=torch.long))) == 0.0


def test_total_is_the_weighted_sum_of_terms(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    config = TrainConfig(
        lambdas=LambdaConfig(causal=0.7, geometric=0.2, reg=0.3),
        sparsity=0.5,
        acyclicity=2.0,
        utility_cost=0.1,
    )
    y = torch.tensor([0, 1] * 4)
    groups = torch.tensor([0, 1] * 4)
    tiny_model.train()
    out = tiny_model(x_batch, need_weights=True)
    loss = causal_lattice_loss(out, x_batch, y, groups, tiny_model.causal_prior(), config)
    t = loss.terms
    assert set(t) == {"ce", "vrex", "kl_attn", "sem", "dirichlet", "sparsity", "acyclicity", "compute_cost"}
    assert all(torch.isfinite(v) for v in t.values())
    assert out.logits is not None
    torch.testing.assert_close(t["ce"], F.cross_entropy(out.logits, y))
    torch.testing.assert_close(t["sem"], F.mse_loss(out.reconstruction, x_batch))
    torch.testing.assert_close(t["acyclicity"], notears_acyclicity(out.adjacency))
    torch.testing.assert_close(t["compute_cost"], out.utilities[:, 1:].mean())
    torch.testing.assert_close(t["sparsity"], out.adjacency.sum() / 6)
    expected = (
        t["ce"]
        + 0.7 * (t["kl_attn"] + t["sem"] + 1.0 * t["vrex"])
        + 0.2 * t["dirichlet"]
        + 0.3 * (0.5 * t["sparsity"] + 2.0 * t["acyclicity"] + 0.1 * t["compute_cost"])
    )
    torch.testing.assert_close(loss.total, expected)
    assert float(t["kl_attn"]) > 0


def test_without_labels_or_weights_the_terms_are_zero(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    out = tiny_model(x_batch)  # no attention weights requested
    loss = causal_lattice_loss(out, x_batch, None, None, tiny_model.causal_prior(), TrainConfig())
    assert float(loss.terms["ce"]) == float(loss.terms["vrex"]) == float(loss.terms["kl_attn"]) == 0.0
    assert math.isfinite(float(loss.total)) and float(loss.total) > 0
