from __future__ import annotations

import pytest
import torch

from model.config import ModelConfig, TrainConfig
from model.evaluation.graph_metrics import forward_flops
from model.nn.attention import attention_kl
from model.nn.transformer import CausalLatticeTransformer
from model.training.losses import predictor_loss
from tests.model.conftest import N_FEATURES, assert_finite_nonzero_grads, set_lattice, set_router_bias

LABEL = N_FEATURES  # the label's node index in the lattice
# f0 -> f1 -> label -> f3 -> f4, f2 -> label, f5 isolated: f3 and f4 are the label's descendants.
CHAIN = [(0, 1), (1, LABEL), (2, LABEL), (LABEL, 3), (3, 4)]


def test_output_shapes(tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor) -> None:
    tiny_model.train()
    rows = torch.tensor([1, 4])
    out = tiny_model(x_batch, weight_rows=rows)
    assert out.logits is not None and out.logits.shape == (8, 2)
    assert out.z.shape == (8, 8)
    assert out.feature_states.shape == (8, 6, 16)
    assert out.utilities.shape == out.routes.shape == (8, 3)
    assert len(out.attentions) == 3 and out.attentions[0].shape == (8, 2, 2, 7)


def test_every_predictor_parameter_gets_a_gradient(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    """The predictor's loss reaches every predictor parameter and none of the structure learner's."""
    set_lattice(tiny_model, [*CHAIN, (0, 5)])
    tiny_model.train()
    y = torch.tensor([0, 1] * 4)
    groups = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    rows = torch.arange(1, N_FEATURES + 1)
    out = tiny_model(x_batch, weight_rows=rows, kl=True)
    assert len(out.kl_terms) == 3 and not out.attentions
    loss = predictor_loss(
        out, y, groups, 3, tiny_model.edge_index, tiny_model.edge_weight, TrainConfig(), 1.0
    )
    assert torch.isfinite(loss.total) and float(loss.terms["kl_attn"]) > 0
    loss.total.backward()
    assert_finite_nonzero_grads(tiny_model, skip=("lattice_encoder.sem.",))
    assert all(p.grad is None for p in tiny_model.lattice_encoder.sem.parameters())


def test_latent_compactness_enters_the_loss_only_when_weighted(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    tiny_model.train()
    y = torch.tensor([0, 1] * 4)
    out = tiny_model(x_batch)

    def loss(weight: float):
        return predictor_loss(
            out,
            y,
            None,
            1,
            tiny_model.edge_index,
            tiny_model.edge_weight,
            TrainConfig(latent_compactness=weight),
            0.0,
        )

    off, on = loss(0.0), loss(2.5)
    assert not off.terms["latent_scatter"].requires_grad  # logged only: no branch of the training's graph
    assert torch.equal(off.terms["latent_scatter"], on.terms["latent_scatter"].detach())
    assert float(on.total - off.total) == pytest.approx(2.5 * float(on.terms["latent_scatter"]), rel=1e-5)


def test_changing_a_descendant_of_the_label_cannot_change_the_prediction(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    set_lattice(tiny_model, CHAIN)
    assert tiny_model.readable_features() == ["f0", "f1", "f2", "f5"]
    for train_mode in (True, False):
        tiny_model.train(train_mode)
        with torch.no_grad():
            base = tiny_model(x_batch, dense=True)
            changed = x_batch.clone()
            changed[:, 3:5] = torch.randn(8, 2) * 10  # the label's descendants
            after = tiny_model(changed, dense=True)
            upstream = x_batch.clone()
            upstream[:, 2] += 3.0  # a parent of the label
            moved = tiny_model(upstream, dense=True)
        assert torch.equal(base.logits, after.logits) and torch.equal(base.z, after.z)
        assert not torch.allclose(base.logits, moved.logits)


def test_reading_the_label_parents_only_makes_the_prediction_a_function_of_their_values_alone(
    tiny_config: ModelConfig, feature_names: list[str], x_batch: torch.Tensor
) -> None:
    torch.manual_seed(0)
    model = CausalLatticeTransformer(
        feature_names, 2, tiny_config.model_copy(update={"reads": "label_parents"})
    )
    set_lattice(model, [*CHAIN, (5, 0)])  # f5 -> f0 -> f1 -> label: f0 and f5 are ancestors, not parents
    assert model.readable_features() == ["f1", "f2"]
    for train_mode in (True, False):
        model.train(train_mode)
        with torch.no_grad():
            base = model(x_batch, dense=True)
            others = x_batch.clone()
            others[:, [0, 3, 4, 5]] = torch.randn(8, 4) * 10  # ancestors of a parent, and descendants
            after = model(others, dense=True)
            parent = x_batch.clone()
            parent[:, 1] += 3.0
            moved = model(parent, dense=True)
        assert torch.equal(base.logits, after.logits) and torch.equal(base.z, after.z)
        assert not torch.allclose(base.z, moved.z)


def test_attention_follows_the_ancestral_relation(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    set_lattice(tiny_model, CHAIN)
    tiny_model.eval()
    attention = tiny_model.get_attention_matrix(x_batch)
    torch.testing.assert_close(attention.sum(dim=-1), torch.ones(6))
    allowed = torch.eye(6, dtype=torch.bool)
    # ancestors through the label node count: f0, f1 and f2 are ancestors of f3 and f4.
    for child, ancestors in {1: [0], 3: [0, 1, 2], 4: [0, 1, 2, 3]}.items():
        allowed[child, ancestors] = True
    assert torch.all(attention[~allowed] == 0)
    assert torch.all(attention[allowed] > 0)


def test_checkpointed_kl_equals_the_kl_of_the_explicit_attention(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    """Training computes kl_causal of sampled rows under checkpointing; it is the KL of Exp-1's explicit
    attention of the same rows, and its gradient is the one through the explicit path."""
    set_lattice(tiny_model, CHAIN)
    rows = torch.tensor([1, 3, 5])
    checkpointed = tiny_model(x_batch, dense=True, weight_rows=rows, kl=True).kl_terms
    explicit = tiny_model(x_batch, dense=True, weight_rows=rows).attentions
    expected = [attention_kl(weights, tiny_model.prior[rows - 1]) for weights in explicit]
    torch.testing.assert_close(torch.stack(checkpointed), torch.stack(expected))
    torch.stack(checkpointed).sum().backward()
    qkv = tiny_model.meta_utility_layer.blocks[0].attention.qkv.weight
    first = qkv.grad.clone()
    tiny_model.zero_grad()
    torch.stack(expected).sum().backward()
    torch.testing.assert_close(qkv.grad, first)


def test_fused_and_explicit_attention_agree(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    """The output always comes from SDPA; the explicit softmax for the KL term gives the same attention."""
    set_lattice(tiny_model, CHAIN)
    attention = tiny_model.meta_utility_layer.blocks[0].attention
    h = torch.randn(8, 7, 16)
    rows = torch.arange(7)
    with torch.no_grad():
        fused, weights = attention(h, tiny_model.rope_cos, tiny_model.rope_sin, tiny_model.bias, rows)
        q, k, v = attention.qkv(h).view(8, 7, 3, 2, 8).permute(2, 0, 3, 1, 4)
        explicit = attention.out((weights @ v).transpose(1, 2).reshape(8, 7, 16))
    torch.testing.assert_close(fused, explicit, rtol=1e-5, atol=1e-5)


def test_all_gates_on_equals_dense(tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor) -> None:
    set_router_bias(tiny_model, 100.0)
    tiny_model.eval()
    with torch.no_grad():
        routed = tiny_model(x_batch)
        dense = tiny_model(x_batch, dense=True)
    assert torch.equal(routed.routes, torch.ones(8, 3))
    torch.testing.assert_close(routed.logits, dense.logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(routed.z, dense.z, rtol=0, atol=1e-6)
    # Same counted compute: routing with every block on adds no block FLOPs.
    assert forward_flops(tiny_model, x_batch, dense=False) == forward_flops(tiny_model, x_batch, dense=True)


def test_gates_off_really_lower_counted_flops(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    dense_flops = forward_flops(tiny_model, x_batch, dense=True)
    set_router_bias(tiny_model, -100.0)
    routed_flops = forward_flops(tiny_model, x_batch, dense=False)
    # Two of three blocks are skipped for every sample: well over a third of the block compute is saved.
    assert routed_flops < 0.8 * dense_flops
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
    one_block.refresh_lattice()
    with torch.no_grad():
        routed = tiny_model(x_batch)
        reference = one_block(x_batch)
    assert torch.equal(routed.routes[:, 1:], torch.zeros(8, 2))
    torch.testing.assert_close(routed.logits, reference.logits, rtol=0, atol=1e-6)
    torch.testing.assert_close(routed.feature_states, reference.feature_states, rtol=0, atol=1e-6)


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
    assert torch.equal(trained.routes, skipped.routes)
    torch.testing.assert_close(trained.logits, skipped.logits, rtol=0, atol=1e-5)


def test_encoder_proba_and_prior(tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor) -> None:
    tiny_model.eval()
    z = tiny_model.causal_encoder(x_batch)
    assert z.shape == (8, 8) and not z.requires_grad
    proba = tiny_model.predict_proba(x_batch)
    assert proba.shape == (8, 2)
    torch.testing.assert_close(proba.sum(dim=-1), torch.ones(8))
    torch.testing.assert_close(tiny_model.causal_prior().sum(dim=-1), torch.ones(6))


def test_cls_sits_at_the_rope_origin(tiny_model: CausalLatticeTransformer) -> None:
    assert tiny_model.rope_cos.shape == tiny_model.rope_sin.shape == (7, 4)
    assert torch.equal(tiny_model.rope_cos[0], torch.ones(4))
    assert torch.equal(tiny_model.rope_sin[0], torch.zeros(4))


def test_unlabeled_model_reads_every_feature(tiny_config: ModelConfig, x_batch: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = CausalLatticeTransformer([f"f{i}" for i in range(6)], 0, tiny_config)
    assert model.head is None and model.lattice_encoder.sem.label_node is None
    assert model.readable_features() == [f"f{i}" for i in range(6)]
    assert model(x_batch).logits is None
    with pytest.raises(ValueError, match="no task head"):
        model.predict_proba(x_batch)


def test_task_gradient_reaches_the_lattice_only_when_asked(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    set_lattice(tiny_model, CHAIN)
    adjacency = tiny_model.lattice_encoder.adjacency()
    live = adjacency[tiny_model.edge_index[0], tiny_model.edge_index[1]]
    out = tiny_model(x_batch, edge_weight=live * 0.5)
    out.logits.sum().backward()
    assert tiny_model.lattice_encoder.sem.edge_logits.grad is not None


def test_reset_parameters_reinitialises(tiny_model: CausalLatticeTransformer) -> None:
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    torch.manual_seed(123)
    tiny_model.reset_parameters()
    after = tiny_model.state_dict()
    assert not torch.equal(
        before["lattice_encoder.sem.edge_logits"], after["lattice_encoder.sem.edge_logits"]
    )
    assert not torch.equal(before["head.weight"], after["head.weight"])
    assert torch.equal(
        after["meta_utility_layer.routers.0.3.bias"], torch.full((1,), tiny_model.config.router_init_bias)
    )


def test_strided_kl_is_the_kl_of_every_strided_sample(
    tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    """At width the KL is estimated on every k-th sample of the batch: the same value as the explicit
    attention of exactly those samples, and a different one from the full batch's (so the stride is used)."""
    set_lattice(tiny_model, CHAIN)
    rows = torch.tensor([1, 3, 5])
    strided = tiny_model(x_batch, dense=True, weight_rows=rows, kl=True, kl_stride=2).kl_terms
    explicit = tiny_model(x_batch[::2], dense=True, weight_rows=rows).attentions
    expected = [attention_kl(weights, tiny_model.prior[rows - 1]) for weights in explicit]
    torch.testing.assert_close(torch.stack(strided), torch.stack(expected))
    full = tiny_model(x_batch, dense=True, weight_rows=rows, kl=True).kl_terms
    assert not torch.allclose(torch.stack(full), torch.stack(strided))
