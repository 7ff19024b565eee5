"""The predictor's loss terms."""

from __future__ import annotations

import pytest
import torch

from model.config import TrainConfig
from model.nn.readout import group_risk_variance
from model.training.losses import (
    dirichlet_energy,
    invariance_weight,
    latent_scatter_ratio,
    regulariser_stride,
)


def test_dirichlet_energy_over_edges() -> None:
    edge_index = torch.tensor([[0], [1]])
    weight = torch.ones(1)
    assert float(dirichlet_energy(torch.ones(3, 2, 4), edge_index, weight)) == 0.0
    states = torch.zeros(1, 2, 4)
    states[0, 1] = 1.0  # ||h_0 - h_1||^2 = 4, one edge of weight 1, d = 4
    assert float(dirichlet_energy(states, edge_index, weight)) == pytest.approx(1.0)
    assert float(dirichlet_energy(states, torch.zeros(2, 0, dtype=torch.long), torch.zeros(0))) == 0.0


def test_group_risk_variance_matches_the_definition() -> None:
    loss = torch.tensor([1.0, 3.0, 2.0, 2.0, 10.0])
    groups = torch.tensor([0, 0, 1, 1, 3])
    risks = torch.tensor([2.0, 2.0, 10.0])  # group 2 is absent from the batch and does not count
    expected = ((risks - risks.mean()) ** 2).mean()
    assert float(group_risk_variance(loss, groups, 4)) == pytest.approx(float(expected))
    assert float(group_risk_variance(loss, torch.zeros(5, dtype=torch.long), 4)) == 0.0


def test_invariance_weight_warms_up_then_ramps() -> None:
    config = TrainConfig(invariance=2.0, invariance_warmup_epochs=2, invariance_ramp_epochs=4)
    weights = [invariance_weight(config, epoch) for epoch in range(1, 9)]
    assert weights == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]


def test_dirichlet_energy_matches_the_edge_by_edge_sum() -> None:
    torch.manual_seed(0)
    states = torch.randn(3, 5, 4, requires_grad=True)
    edge_index = torch.tensor([[0, 1, 1, 3], [1, 2, 4, 4]])
    weight = torch.tensor([0.5, 1.0, 0.7, 0.9])
    direct = ((states[:, edge_index[0]] - states[:, edge_index[1]]).pow(2).sum(-1) * weight).sum(-1)
    expected = (direct / (weight.sum() * 4)).mean()
    value = dirichlet_energy(states, edge_index, weight)
    torch.testing.assert_close(value, expected)
    (grad,) = torch.autograd.grad(value, states)
    (expected_grad,) = torch.autograd.grad(expected, states)
    torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize(
    ("batch", "samples", "stride"), [(256, 64, 4), (64, 64, 1), (100, 64, 2), (10, 64, 1)]
)
def test_regulariser_stride_leaves_at_most_the_requested_samples(
    batch: int, samples: int, stride: int
) -> None:
    assert regulariser_stride(batch, samples) == stride
    kept = len(range(0, batch, stride))
    assert kept <= samples and (stride == 1 or kept > samples // 2)


def test_latent_scatter_ratio_is_within_over_total_scatter_and_scale_free() -> None:
    y = torch.tensor([0, 0, 1, 1])
    on_two_points = torch.tensor([[1.0, 2.0], [1.0, 2.0], [-3.0, 0.5], [-3.0, 0.5]])
    assert float(latent_scatter_ratio(on_two_points, y, 2)) == 0.0
    same_means = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    assert float(latent_scatter_ratio(same_means, y, 2)) == pytest.approx(1.0)
    z = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(32) % 3
    by_hand = (
        sum(((z[labels == c] - z[labels == c].mean(0)) ** 2).sum() for c in range(3))
        / ((z - z.mean(0)) ** 2).sum()
    )
    assert float(latent_scatter_ratio(z, labels, 3)) == pytest.approx(float(by_hand), rel=1e-5)
    # Shrinking or moving z does not lower it: only tighter classes do.
    assert float(latent_scatter_ratio(0.01 * z + 5.0, labels, 3)) == pytest.approx(float(by_hand), rel=1e-4)
