from __future__ import annotations

import pytest
import torch

from model.config import ModelConfig, TrainConfig
from model.losses import causal_lattice_loss
from model.metrics import forward_flops
from model.transformer import CausalLatticeTransformer
from tests.model.conftest import assert_finite_nonzero_grads, set_router_bias


def test_output_shapes(tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor) -> None:
    tiny_model.train()
    out = tiny_model(x_batch, need_weights=True)
    assert out.logits is not None and out.logits.shape == (8, 2)
    assert out.z.shape == (8, 8)
    assert out.reconstruction.shape == (8, 6)
    assert out.adjacency.shape == (6, 6)
    assert out.feature_states.shape == (8, 6, 16)
    assert out.utilities.shape == out.gates.shape == (8, 3)
    assert len(out.attentions) == 3 and out.attentions[0].shape == (8, 2, 7, 7)


def test_every_parameter_gets_a_gradient_from_the_loss(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    tiny_model.train()
    y = torch.tensor([0, 1] * 4)
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    out = tiny_model(x_batch, need_weights=True)
    loss = causal_lattice_loss(out, x_batch, y, groups, tiny_model.causal_prior(), TrainConfig())
    assert torch.isfinite(loss.total)
    loss.total.backward()
    assert_finite_nonzero_grads(tiny_model)


def test_all_gates_on_equals_dense(tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor) -> None:
    set_router_bias(tiny_model, 100.0)
    tiny_model.eval()
    with torch.no_grad():
        gated = tiny_model(x_batch)
        dense = tiny_model(x_batch, dense=True)
    assert torch.equal(gated.gates, torch.ones(8, 3))
    torch.testing.assert_close(gated.logits, dense.logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(gated.z, dense.z, rtol=0, atol=1e-6)
    # Same counted compute: routing with every gate on adds no block FLOPs.
    assert forward_flops(tiny_model, x_batch, dense=False) == forward_flops(tiny_model, x_batch, dense=True)


def test_gates_off_really_lower_counted_flops(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    dense_flops = forward_flops(tiny_model, x_batch, dense=True)
    set_router_bias(tiny_model, -100.0)
    gated_flops = forward_flops(tiny_model, x_batch, dense=False)
    assert gated_flops < dense_flops
    # Two of three blocks are skipped for every sample: well over a third of the block compute is saved.
    assert gated_flops < 0.8 * dense_flops
    # Dense FLOPs do not depend on the routers.
    assert forward_flops(tiny_model, x_batch, dense=True) == dense_flops


def test_forward_flops_restores_training_mode(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    tiny_model.train()
    forward_flops(tiny_model, x_batch, dense=False)
    assert tiny_model.training


def test_skipped_blocks_equal_model_without_those_blocks(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor, tiny_config: ModelConfig
) -> None:
    """Gates off for blocks 1 and 2 gives exactly the model that only has block 0."""
    set_router_bias(tiny_model, -100.0)
    tiny_model.eval()
    one_block = CausalLatticeTransformer(
        tiny_model.feature_names, 2, tiny_config.model_copy(update={"n_blocks": 1})
    ).eval()
    state = {
        k: v for k, v in tiny_model.state_dict().items() if ".blocks.1." not in k and ".blocks.2." not in k
    }
    state = {k: v for k, v in state.items() if ".routers." not in k}
    one_block.load_state_dict(state)
    with torch.no_grad():
        gated = tiny_model(x_batch)
        reference = one_block(x_batch)
    assert torch.equal(gated.gates[:, 1:], torch.zeros(8, 2))
    torch.testing.assert_close(gated.logits, reference.logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(gated.feature_states, reference.feature_states, rtol=0, atol=1e-6)


def test_train_and_eval_agree_on_hard_gates(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    """The straight-through forward in training equals real skipping at inference (dropout 0)."""
    with torch.no_grad():
        tiny_model.meta_utility_layer.routers[0][-1].bias.fill_(-100.0)
        tiny_model.meta_utility_layer.routers[1][-1].bias.fill_(100.0)
    tiny_model.train()
    with torch.no_grad():
        trained = tiny_model(x_batch)
    tiny_model.eval()
    with torch.no_grad():
        skipped = tiny_model(x_batch)
    assert torch.equal(trained.gates, skipped.gates)
    torch.testing.assert_close(trained.logits, skipped.logits, rtol=0, atol=1e-5)


def test_attention_matrix_encoder_and_proba(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    tiny_model.eval()
    attention = tiny_model.get_attention_matrix(x_batch)
    assert attention.shape == (6, 6)
    torch.testing.assert_close(attention.sum(dim=-1), torch.ones(6))
    z = tiny_model.causal_encoder(x_batch)
    assert z.shape == (8, 8) and not z.requires_grad
    proba = tiny_model.predict_proba(x_batch)
    assert proba.shape == (8, 2)
    torch.testing.assert_close(proba.sum(dim=-1), torch.ones(8))
    prior = tiny_model.causal_prior()
    torch.testing.assert_close(prior.sum(dim=-1), torch.ones(6))


def test_cls_sits_at_origin(tiny_model: CausalLatticeTransformer) -> None:
    cos, sin = tiny_model.rope_angles(tiny_model.lattice_encoder.adjacency())
    assert cos.shape == sin.shape == (7, 4)
    assert torch.equal(cos[0], torch.ones(4)) and torch.equal(sin[0], torch.zeros(4))


def test_unlabeled_model_has_no_logits(tiny_config: ModelConfig, x_batch: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = CausalLatticeTransformer([f"f{i}" for i in range(6)], 0, tiny_config)
    assert model.head is None
    out = model(x_batch, need_weights=True)
    assert out.logits is None
    loss = causal_lattice_loss(out, x_batch, None, None, model.causal_prior(), TrainConfig())
    assert float(loss.terms["ce"]) == 0.0
    loss.total.backward()
    assert model.lattice_encoder.theta.grad is not None
    with pytest.raises(ValueError, match="no task head"):
        model.predict_proba(x_batch)


def test_reset_parameters_reinitialises(tiny_model: CausalLatticeTransformer) -> None:
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    torch.manual_seed(123)
    tiny_model.reset_parameters()
    after = tiny_model.state_dict()
    assert not torch.equal(before["lattice_encoder.theta"], after["lattice_encoder.theta"])
    assert not torch.equal(before["head.weight"], after["head.weight"])
    # Router biases go back to the configured initial value.
    assert torch.equal(
        after["meta_utility_layer.routers.0.3.bias"], torch.full((1,), tiny_model.config.router_init_bias)
    )
