"""CUDA correctness: the same model on the GPU agrees with the CPU, the fused attention with a lattice bias runs on
a memory-efficient kernel, compiled blocks agree with eager ones, bf16 (the CUDA default) trains, routed
inference skips work, and the structure phase and the label-edge search learn on the GPU as on the CPU.

Skipped without CUDA (CI has none); run on a GPU machine with `pytest tests/gpu`.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from model.config import ModelConfig, SplitConfig, StructureConfig, SyntheticDataConfig, TrainConfig
from model.data.generator import make_synthetic_pancancer
from model.data.splits import split_dataset
from model.evaluation.graph_metrics import structure_recovery
from model.nn.transformer import CausalLatticeTransformer
from model.structure.label_edges import search_label_edges
from model.training.trainer import evaluate_model, train_model
from tests.model.conftest import set_lattice
from tests.model.test_label_orientation import CAUSE, CHILD, OTHER_CAUSE, ROOT, _data, _sem_on
from tests.model.test_label_orientation import LABEL as LABEL_NODE

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CONFIG = ModelConfig(d_model=32, n_heads=2, n_blocks=3, d_latent=8)
LABEL = 12
LATTICE = [(0, 1), (1, LABEL), (2, LABEL), (LABEL, 3), (3, 4), (5, 6), (6, 7)]
FAST_STRUCTURE = StructureConfig(steps_per_round=50, min_rounds=3, max_rounds=6)


@pytest.fixture(scope="module")
def split():
    data = make_synthetic_pancancer(SyntheticDataConfig(n_samples=800, n_genes=10, n_biomarkers=2))
    return split_dataset(data, SplitConfig())


def _model() -> CausalLatticeTransformer:
    torch.manual_seed(0)
    model = CausalLatticeTransformer([f"f{i}" for i in range(12)], 2, CONFIG)
    set_lattice(model, LATTICE)
    return model.eval()


def test_forward_on_cuda_matches_cpu() -> None:
    model = _model()
    x = torch.randn(64, 12)
    cpu = model(x, dense=True)
    gpu = model.cuda()(x.cuda(), dense=True)
    torch.testing.assert_close(gpu.logits.cpu(), cpu.logits, atol=1e-4, rtol=1e-4)
    assert gpu.logits.device.type == "cuda" and model.bias.device.type == "cuda"


def test_lattice_bias_runs_on_the_memory_efficient_kernel() -> None:
    """The padded bias lets SDPA take its memory-efficient kernel; forcing that kernel must not fail, and it
    agrees with the math reference."""
    model = _model().cuda()
    attention = model.meta_utility_layer.blocks[0].attention
    h = torch.randn(16, 13, 32, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
            efficient, _ = attention(h, model.rope_cos, model.rope_sin, model.bias)
        with sdpa_kernel(SDPBackend.MATH):
            reference, _ = attention(h, model.rope_cos, model.rope_sin, model.bias)
    torch.testing.assert_close(efficient.float(), reference.float(), atol=2e-2, rtol=2e-2)


def test_fused_and_explicit_attention_agree_on_cuda() -> None:
    model = _model().cuda()
    attention = model.meta_utility_layer.blocks[0].attention
    h = torch.randn(8, 13, 32, device="cuda")
    rows = torch.arange(13, device="cuda")
    with torch.no_grad():
        fused, weights = attention(h, model.rope_cos, model.rope_sin, model.bias, rows)
        _, _, v = attention.qkv(h).view(8, 13, 3, 2, 16).permute(2, 0, 3, 1, 4)
        explicit = attention.out((weights @ v).transpose(1, 2).reshape(8, 13, 32))
    torch.testing.assert_close(fused, explicit, atol=1e-4, rtol=1e-4)


def test_compiled_blocks_agree_with_eager_blocks() -> None:
    model = _model().cuda().train()
    x = torch.randn(32, 12, device="cuda")
    rows = torch.arange(1, 13, device="cuda")
    eager = model(x, weight_rows=rows)
    model.meta_utility_layer.compile_blocks()
    compiled = model(x, weight_rows=rows)
    torch.testing.assert_close(compiled.logits, eager.logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(compiled.attentions[1], eager.attentions[1], atol=1e-4, rtol=1e-4)
    F.cross_entropy(compiled.logits, torch.zeros(32, dtype=torch.long, device="cuda")).backward()
    assert model.tokenizer.weight.grad is not None


def test_blocks_compiled_under_a_memory_budget_keep_less_and_agree() -> None:
    """Compiled with a low activation memory budget, the blocks recompute in the backward instead of saving: the
    same loss and gradients, and less memory held between the forward and the backward pass (issue 23)."""
    x = torch.randn(64, 12, device="cuda")
    rows = torch.arange(1, 13, device="cuda")
    results = {}
    for budget in (1.0, 0.1):
        model = _model().cuda().train()
        model.meta_utility_layer.compile_blocks(memory_budget=budget)
        torch.compiler.reset()
        model(x, weight_rows=rows)  # compile
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        output = model(x, weight_rows=rows)
        held = torch.cuda.memory_allocated() - before
        output.logits.sum().backward()
        results[budget] = (held, output.logits.detach(), model.tokenizer.weight.grad.clone())
    assert results[0.1][0] < results[1.0][0]
    torch.testing.assert_close(results[0.1][1], results[1.0][1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(results[0.1][2], results[1.0][2], atol=1e-4, rtol=1e-4)


def test_descendants_cannot_move_the_prediction_on_cuda() -> None:
    model = _model().cuda()
    x = torch.randn(32, 12, device="cuda")
    changed = x.clone()
    changed[:, 3:5] = torch.randn(32, 2, device="cuda") * 10
    with torch.no_grad():
        assert torch.equal(model(x, dense=True).logits, model(changed, dense=True).logits)


def test_routed_inference_skips_work_on_cuda() -> None:
    model = _model().cuda()
    for router in model.meta_utility_layer.routers:
        torch.nn.init.constant_(router[-1].bias, -100.0)
    x = torch.randn(32, 12, device="cuda")
    routed = model(x)
    assert float(routed.routes[:, 1:].sum()) == 0.0
    assert torch.isfinite(routed.logits).all()


def test_bf16_by_default_trains_like_fp32(split) -> None:
    runs = {}
    for precision in ("fp32", "auto"):  # auto = bf16 autocast on CUDA
        config = TrainConfig(epochs=8, lr=3e-3, device="cuda", precision=precision, structure=FAST_STRUCTURE)
        result = train_model(split.train, CONFIG, config, progress=None, structure_progress=None)
        assert next(result.model.parameters()).device.type == "cpu"  # handed back on the CPU
        losses = [record.loss["total"] for record in result.history]
        assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < 0.8 * losses[0]
        runs[precision] = (losses, evaluate_model(result.model, split.test))
    for precision, (_, metrics) in runs.items():
        assert metrics["auroc"] > 0.7, (precision, metrics)
    assert abs(runs["auto"][1]["auroc"] - runs["fp32"][1]["auroc"]) < 0.05


def test_structure_phase_on_cuda_recovers_the_lattice_like_the_cpu(split) -> None:
    truth = split.train.true_graph()
    scores = {}
    for device in ("cpu", "cuda"):
        config = TrainConfig(
            epochs=1, device=device, structure=FAST_STRUCTURE.model_copy(update={"max_rounds": 12})
        )
        model = train_model(split.train, CONFIG, config, progress=None, structure_progress=None).model
        adjacency = model.lattice_encoder.adjacency().detach().numpy()
        scores[device] = structure_recovery(adjacency, model.feature_names, truth, 0.5).edge_auroc
    assert scores["cuda"] > 0.85 and abs(scores["cuda"] - scores["cpu"]) < 0.1, scores


def test_label_edge_search_on_cuda_makes_the_cpus_changes() -> None:
    x, y = _data()
    # A cause fitted as the label's child, with the label's other cause below it: a reversal, then an addition.
    fitted = [(ROOT, CAUSE), (LABEL_NODE, CAUSE), (CAUSE, OTHER_CAUSE), (LABEL_NODE, CHILD)]
    made = {}
    for device in ("cpu", "cuda"):
        sem = _sem_on(fitted, x, y).to(device)
        changes = search_label_edges(
            sem, x.to(device), y.to(device), None, StructureConfig(), 0.5, torch.Generator().manual_seed(0)
        )
        made[device] = ([f for f, _ in changes.reversed], [f for f, _ in changes.added])
        assert sem.hard_mask()[OTHER_CAUSE, LABEL_NODE] == 1
    assert made["cuda"] == made["cpu"] == ([CAUSE], [OTHER_CAUSE])
