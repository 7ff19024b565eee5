"""CUDA correctness: the same model on GPU agrees with the CPU, attention paths agree, bf16 trains.

Skipped without CUDA (CI has none); run on a GPU machine with `pytest tests/gpu`.
"""

from __future__ import annotations

import pytest
import torch

from model.config import ModelConfig, SplitConfig, SyntheticDataConfig, TrainConfig
from model.data import split_dataset
from model.scm import make_synthetic_pancancer
from model.trainer import evaluate_model, train_model
from model.transformer import CausalLatticeTransformer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CONFIG = ModelConfig(d_model=32, n_heads=2, n_blocks=3, d_latent=8)


@pytest.fixture(scope="module")
def split():
    data = make_synthetic_pancancer(SyntheticDataConfig(n_samples=600, n_genes=10, n_biomarkers=2))
    return split_dataset(data, SplitConfig())


def _model() -> CausalLatticeTransformer:
    torch.manual_seed(0)
    model = CausalLatticeTransformer([f"f{i}" for i in range(12)], 2, CONFIG)
    return model.eval()


def test_forward_on_cuda_matches_cpu() -> None:
    model = _model()
    x = torch.randn(64, 12)
    cpu = model(x, dense=True)
    gpu = model.cuda()(x.cuda(), dense=True)
    torch.testing.assert_close(gpu.logits.cpu(), cpu.logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gpu.reconstruction.cpu(), cpu.reconstruction, atol=1e-4, rtol=1e-4)


def test_fused_and_explicit_attention_agree_on_cuda() -> None:
    model = _model().cuda()
    x = torch.randn(32, 12, device="cuda")
    fused = model(x, dense=True, need_weights=False)
    explicit = model(x, dense=True, need_weights=True)
    torch.testing.assert_close(fused.logits, explicit.logits, atol=1e-5, rtol=1e-4)


def test_gated_inference_with_all_gates_on_equals_dense_on_cuda() -> None:
    model = _model().cuda()
    for router in model.meta_utility_layer.routers:
        torch.nn.init.constant_(router[-1].bias, 100.0)
    x = torch.randn(32, 12, device="cuda")
    # Exact on the CPU (tests/model); cuBLAS may pick another kernel for the gathered copy of the batch.
    torch.testing.assert_close(model(x).logits, model(x, dense=True).logits, atol=1e-5, rtol=1e-5)


def test_gated_inference_skips_work_on_cuda() -> None:
    model = _model().cuda()
    for router in model.meta_utility_layer.routers:
        torch.nn.init.constant_(router[-1].bias, -100.0)
    x = torch.randn(32, 12, device="cuda")
    gated = model(x)
    assert float(gated.gates[:, 1:].sum()) == 0.0
    assert torch.isfinite(gated.logits).all()


def test_bf16_training_tracks_fp32_on_cuda(split) -> None:
    """bf16 autocast trains like fp32: loss falls along the same path and the classifier ranks as well.

    (After 8 epochs the thresholded accuracy still swings with the utility gates: one H200 run gave fp32 0.83 vs
    bf16 0.69 accuracy at AUROC 0.939 vs 0.943; so AUROC, not accuracy, is compared here.)
    """
    runs = {}
    for precision in ("fp32", "bf16"):
        config = TrainConfig(epochs=8, lr=3e-3, device="cuda", precision=precision)
        result = train_model(split.train, CONFIG, config, progress=None)
        assert next(result.model.parameters()).device.type == "cpu"  # handed back on the CPU
        losses = [record.loss["total"] for record in result.history]
        assert all(torch.isfinite(torch.tensor(losses)))
        assert losses[-1] < 0.5 * losses[0]
        runs[precision] = (losses, evaluate_model(result.model, split.test))
    for precision, (_, metrics) in runs.items():
        assert metrics["auroc"] > 0.85, (precision, metrics)
    assert abs(runs["bf16"][1]["auroc"] - runs["fp32"][1]["auroc"]) < 0.05
    assert abs(runs["bf16"][0][-1] - runs["fp32"][0][-1]) < 0.25 * runs["fp32"][0][-1]


def test_cuda_and_cpu_training_reach_similar_accuracy(split) -> None:
    accuracies = {}
    for device in ("cpu", "cuda"):
        result = train_model(
            split.train, CONFIG, TrainConfig(epochs=8, lr=3e-3, device=device), progress=None
        )
        accuracies[device] = evaluate_model(result.model, split.test)["accuracy"]
    assert abs(accuracies["cpu"] - accuracies["cuda"]) < 0.05, accuracies
