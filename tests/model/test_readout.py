from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from model.config import ModelConfig, TrainConfig
from model.data.tables import Dataset
from model.nn.readout import fit_linear_readout
from model.nn.transformer import CausalLatticeTransformer
from model.training.trainer import evaluate_model, train_model
from tests.model.conftest import TINY_STRUCTURE, set_lattice


def _three_classes(rows: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 4, generator=generator)
    scores = x @ torch.tensor([[2.0, -1.0, 0.0], [0.0, 1.5, -1.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    y = (scores + torch.randn(rows, 3, generator=generator)).argmax(dim=1)
    return x, y


def test_the_fit_is_scikit_learns_multinomial_logistic_regression() -> None:
    x, y = _three_classes()
    weight, intercept = fit_linear_readout(x, y, torch.ones(4, dtype=torch.bool), 3)
    # scikit-learn fits float32 input in float32; the readout fits in float64, so compare with that.
    rows = x.double().numpy()
    reference = LogisticRegression(C=1.0, max_iter=1000, tol=1e-10).fit(rows, y.numpy())
    ours = torch.softmax(x @ weight.T + intercept, dim=1).numpy()
    np.testing.assert_allclose(ours, reference.predict_proba(rows), atol=1e-4)
    assert weight.dtype == x.dtype and intercept.shape == (3,)


def test_an_unreadable_feature_gets_exactly_zero_weight() -> None:
    x, y = _three_classes()
    readable = torch.tensor([True, False, True, True])
    weight, _ = fit_linear_readout(x, y, readable, 3)
    assert torch.equal(weight[:, 1], torch.zeros(3)) and weight[:, 0].abs().sum() > 0


def test_the_model_starts_its_readout_at_the_fit_and_never_reads_a_descendant(
    tiny_config: ModelConfig, feature_names: list[str]
) -> None:
    torch.manual_seed(0)
    model = CausalLatticeTransformer(feature_names, 2, tiny_config)
    assert torch.equal(model.readable_readout, torch.zeros(2, 6))  # zeros until initialised
    set_lattice(model, [(0, 6), (6, 1)])  # f0 -> label -> f1: f1 is a descendant
    x = torch.randn(64, 6, generator=torch.Generator().manual_seed(2))
    y = (x[:, 0] + x[:, 1] > 0).long()
    model.initialise_readout(x, y)
    weight, intercept = fit_linear_readout(x, y, model.readable, 2)
    assert torch.equal(model.readable_readout, weight) and torch.equal(model.head.bias, intercept)
    assert torch.equal(model.readable_readout[:, 1], torch.zeros(2))
    model.eval()
    moved = x.clone()
    moved[:, 1] += 100.0
    assert torch.equal(model(x).logits, model(moved).logits)


def _shiftable_rows(n: int, shift: float, seed: int) -> Dataset:
    """y = [x0 - x1 + noise > 0]; `shift` moves both causes out of the training range together."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    x[:, :2] += shift
    y = (x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=n) > 0).astype(np.int64)
    return Dataset(features=x, feature_names=[f"f{i}" for i in range(4)], labels=y, class_names=["a", "b"])


def test_the_readout_carries_the_prediction_outside_the_training_range() -> None:
    """The transformer's tokens are layer-normalised, so its response saturates a few standard deviations out;
    with both causes shifted by 4 it is at chance alone, and the readout keeps the prediction right."""
    config = ModelConfig(d_model=16, n_heads=2, n_blocks=3, d_latent=8, rope_dims=2, label_node=False)
    train = TrainConfig(seed=42, batch_size=32, epochs=3, lr=1e-3, structure=TINY_STRUCTURE)
    model = train_model(_shiftable_rows(400, 0.0, seed=0), config, train, None, None).model
    shifted = _shiftable_rows(400, 4.0, seed=1)
    assert evaluate_model(model, shifted)["accuracy"] >= 0.85
    with torch.no_grad():
        model.readable_readout.zero_()
    assert evaluate_model(model, shifted)["accuracy"] <= 0.7
