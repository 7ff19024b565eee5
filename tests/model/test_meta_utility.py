from __future__ import annotations

import pytest
import torch

from model.nn.attention import CausalBlock
from model.nn.block_router import MetaUtilityLayer
from model.nn.rope import CausalRoPE
from tests.model.conftest import assert_finite_nonzero_grads

# Full attention between the 7 tokens: these tests are about routing, not the lattice mask.
BIAS = torch.zeros(7, 7)


def _layer(n_blocks: int = 3, init_bias: float = 2.0) -> tuple[MetaUtilityLayer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    rope = CausalRoPE(8, 2)
    blocks = [CausalBlock(16, 2, 2.0, 0.0) for _ in range(n_blocks)]
    layer = MetaUtilityLayer(blocks, 16, threshold=0.5, init_bias=init_bias)
    cos, sin = rope.angles(torch.randn(7, 2))
    return layer, cos, sin


def _force(layer: MetaUtilityLayer, biases: list[float]) -> None:
    with torch.no_grad():
        for router, bias in zip(layer.routers, biases, strict=True):
            router[-1].bias.fill_(bias)


def _reference(layer: MetaUtilityLayer, h: torch.Tensor, cos, sin, routes: torch.Tensor) -> torch.Tensor:
    """Run each sample alone through only the blocks its router switched on."""
    rows = []
    for b in range(h.shape[0]):
        state = h[b : b + 1]
        for index, block in enumerate(layer.blocks):
            if routes[b, index]:
                state = state + block(state, cos, sin, BIAS)[0]
        rows.append(state)
    return torch.cat(rows)


def test_shapes_block_zero_always_on_and_utility_tracking() -> None:
    layer, cos, sin = _layer()
    assert len(layer.routers) == 2
    h = torch.randn(5, 7, 16)
    layer.train()
    result = layer(h, cos, sin, BIAS)
    assert result.hidden.shape == (5, 7, 16)
    assert result.utilities.shape == result.routes.shape == (5, 3)
    assert torch.equal(result.utilities[:, 0], torch.ones(5))
    assert ((result.utilities > 0) & (result.utilities <= 1)).all()
    # init bias 2.0: every routed block starts on (sigmoid(2) = 0.88 > 0.5).
    assert torch.equal(result.routes, torch.ones(5, 3))
    torch.testing.assert_close(layer.get_utility(), result.utilities.mean(dim=0))
    layer(h, cos, sin, BIAS)
    torch.testing.assert_close(layer.get_utility(), result.utilities.mean(dim=0))
    # A dense pass (made for attention) is not a routed pass: it does not count towards Exp-4's utility.
    layer(h * 3, cos, sin, BIAS, dense=True)
    torch.testing.assert_close(layer.get_utility(), result.utilities.mean(dim=0))
    layer.reset_utility()
    assert torch.equal(layer.get_utility(), torch.zeros(3))


def test_block_zero_on_even_when_routers_off() -> None:
    layer, cos, sin = _layer()
    _force(layer, [-100.0, -100.0])
    layer.eval()
    h = torch.randn(4, 7, 16)
    with torch.no_grad():
        result = layer(h, cos, sin, BIAS)
    assert result.routes[:, 0].tolist() == [1.0] * 4
    assert result.routes[:, 1:].sum() == 0
    torch.testing.assert_close(result.hidden, h + layer.blocks[0](h, cos, sin, BIAS)[0])


def test_straight_through_gradients_reach_routers_and_blocks() -> None:
    layer, cos, sin = _layer()
    layer.train()
    result = layer(torch.randn(6, 7, 16), cos, sin, BIAS, weight_rows=torch.arange(7))
    assert len(result.attentions) == 3
    (result.hidden.pow(2).mean() + result.utilities.mean()).backward()
    assert_finite_nonzero_grads(layer)


def test_training_gate_is_hard_in_forward() -> None:
    layer, cos, sin = _layer()
    _force(layer, [-100.0, 100.0])
    layer.train()
    h = torch.randn(3, 7, 16)
    result = layer(h, cos, sin, BIAS)
    assert result.routes.tolist() == [[1.0, 0.0, 1.0]] * 3
    after_first = h + layer.blocks[0](h, cos, sin, BIAS)[0]
    expected = after_first + layer.blocks[2](after_first, cos, sin, BIAS)[0]
    torch.testing.assert_close(result.hidden, expected)


def test_all_gates_on_equals_dense() -> None:
    layer, cos, sin = _layer()
    _force(layer, [100.0, 100.0])
    layer.eval()
    h = torch.randn(6, 7, 16)
    with torch.no_grad():
        routed = layer(h, cos, sin, BIAS)
        dense = layer(h, cos, sin, BIAS, dense=True)
    assert torch.equal(routed.routes, torch.ones(6, 3))
    torch.testing.assert_close(routed.hidden, dense.hidden, rtol=0, atol=1e-6)


def test_skipped_samples_equal_running_their_blocks_only() -> None:
    layer, cos, sin = _layer()
    layer.eval()
    h = torch.randn(10, 7, 16)
    # Put block 1's threshold at the median router logit so about half of the samples skip it.
    with torch.no_grad():
        state = h + layer.blocks[0](h, cos, sin, BIAS)[0]
        logits = layer.routers[0](state[:, 0]).squeeze(-1)
        layer.routers[0][-1].bias -= logits.median() + 1e-4
        routed = layer(h, cos, sin, BIAS)
    on = routed.routes[:, 1]
    assert 0 < on.sum() < 10, "need a mix of on and off samples"
    assert torch.equal(routed.routes[:, 2], torch.ones(10))
    with torch.no_grad():
        expected = _reference(layer, h, cos, sin, routed.routes)
    torch.testing.assert_close(routed.hidden, expected, rtol=1e-5, atol=1e-5)
    # And it is not the dense result for the samples that skipped.
    with torch.no_grad():
        dense = layer(h, cos, sin, BIAS, dense=True).hidden
    off = on == 0
    assert not torch.allclose(routed.hidden[off], dense[off])


def test_eval_routed_pass_refuses_weights() -> None:
    layer, cos, sin = _layer()
    layer.eval()
    with pytest.raises(ValueError, match="dense=True"):
        layer(torch.randn(2, 7, 16), cos, sin, BIAS, weight_rows=torch.arange(7))
