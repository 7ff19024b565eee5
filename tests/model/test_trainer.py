from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
import torch

from model.config import ModelConfig, TrainConfig
from model.data import Dataset
from model.trainer import EpochRecord, TrainingDivergedError, evaluate_model, train_model


def _comparable(history: list[EpochRecord]) -> list[dict]:
    """Every field of the history except wall-clock seconds."""
    return [{k: v for k, v in dataclasses.asdict(r).items() if k != "seconds"} for r in history]


def test_trains_and_records_history(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    seen: list[tuple[int, int]] = []
    result = train_model(
        tiny_train_split, tiny_config, tiny_train_config, lambda r, n: seen.append((r.epoch, n))
    )
    assert seen == [(1, 2), (2, 2)]
    assert [r.epoch for r in result.history] == [1, 2]
    record = result.history[-1]
    assert record.train_accuracy is not None and 0 <= record.train_accuracy <= 1
    assert len(record.utility_per_block) == 3 and record.utility_per_block[0] == 1.0
    assert 0 <= record.utility_entropy <= math.log(3) + 1e-6
    assert all(math.isfinite(v) for v in record.loss.values())
    assert "lattice_encoder.theta" in record.grad_norms
    assert set(result.gradient_log()) == set(record.grad_norms)
    assert not result.model.training
    metrics = evaluate_model(result.model, tiny_train_split)
    for key in ("accuracy", "auroc", "f1", "kl_causal", "laplacian", "utility_entropy", "reconstruction_mse"):
        assert math.isfinite(metrics[key]), key
    assert 0 <= metrics["gate_on_share"] <= 1
    dense = evaluate_model(result.model, tiny_train_split, dense=True)
    assert dense["gate_on_share"] == 1.0


def test_training_moves_the_lattice(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    torch.manual_seed(tiny_train_config.seed)
    result = train_model(tiny_train_split, tiny_config, tiny_train_config, None)
    theta = result.model.lattice_encoder.theta.detach()
    # Initial theta is N(-0.5, 0.01); lattice_lr 1e-2 over 6 steps moves it visibly.
    assert (theta - (-0.5)).abs().max() > 0.02


def test_same_seed_is_bit_identical(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    first = train_model(tiny_train_split, tiny_config, tiny_train_config, None)
    second = train_model(tiny_train_split, tiny_config, tiny_train_config, None)
    state_a, state_b = first.model.state_dict(), second.model.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name
    assert _comparable(first.history) == _comparable(second.history)
    assert evaluate_model(first.model, tiny_train_split) == evaluate_model(second.model, tiny_train_split)


def test_different_seeds_differ(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    first = train_model(tiny_train_split, tiny_config, tiny_train_config, None)
    other = train_model(tiny_train_split, tiny_config, tiny_train_config.model_copy(update={"seed": 7}), None)
    state_a, state_b = first.model.state_dict(), other.model.state_dict()
    assert any(not torch.equal(state_a[name], state_b[name]) for name in state_a)
    assert _comparable(first.history) != _comparable(other.history)


def test_unlabeled_mode_trains_without_logits(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    unlabeled = dataclasses.replace(tiny_train_split, labels=None, class_names=[])
    result = train_model(unlabeled, tiny_config, tiny_train_config.model_copy(update={"epochs": 1}), None)
    assert result.model.n_classes == 0 and result.model.head is None
    assert result.history[0].train_accuracy is None
    assert result.history[0].loss["ce"] == 0.0
    x = torch.from_numpy(unlabeled.features[:4])
    assert result.model(x).logits is None
    metrics = evaluate_model(result.model, unlabeled)
    assert "accuracy" not in metrics and math.isfinite(metrics["reconstruction_mse"])


@pytest.mark.parametrize(("n_rows", "batch_size"), [(61, 20), (61, 60)])
def test_every_row_is_used_once_per_epoch_and_no_batch_has_one_row(
    tiny_train_split: Dataset,
    tiny_config: ModelConfig,
    monkeypatch: pytest.MonkeyPatch,
    n_rows: int,
    batch_size: int,
) -> None:
    """n_rows = k * batch_size + 1: the trailing single row is folded into the last batch, none is lost."""
    import model.trainer as trainer

    data = tiny_train_split.subset(np.arange(n_rows))
    real_loss = trainer.causal_lattice_loss
    seen: list[torch.Tensor] = []

    def recording_loss(output, x, *args, **kwargs):
        seen.append(x.detach().clone())
        return real_loss(output, x, *args, **kwargs)

    monkeypatch.setattr(trainer, "causal_lattice_loss", recording_loss)
    train_model(data, tiny_config, TrainConfig(batch_size=batch_size, epochs=1, device="cpu"), None)
    assert min(batch.shape[0] for batch in seen) >= 2
    rows = torch.cat(seen)
    assert rows.shape[0] == n_rows
    expected = torch.from_numpy(data.features)
    order = torch.from_numpy(np.lexsort(rows.T.numpy()[::-1].copy()))
    expected_order = torch.from_numpy(np.lexsort(expected.T.numpy()[::-1].copy()))
    assert torch.equal(rows[order], expected[expected_order])


def test_nan_features_raise_diverged_error_naming_epoch_and_step(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    features = tiny_train_split.features.copy()
    features[:, 0] = np.nan  # as if NaNs slipped in after validation
    poisoned = dataclasses.replace(tiny_train_split, features=features)
    with pytest.raises(TrainingDivergedError) as error:
        train_model(poisoned, tiny_config, tiny_train_config, None)
    message = str(error.value)
    assert re.search(r"epoch 1, step 0\b", message), message
    assert "sem" in message  # the offending term is named
    assert "train.lr" in message


def test_huge_learning_rate_diverges_with_a_clear_error(
    tiny_train_split: Dataset, tiny_config: ModelConfig
) -> None:
    config = TrainConfig(batch_size=32, epochs=3, lr=1e20, lattice_lr=1e20)
    with pytest.raises(
        TrainingDivergedError, match=r"at epoch \d+, step \d+ .*lower train\.lr \(now 1e\+20\)"
    ):
        train_model(tiny_train_split, tiny_config, config, None)


def test_nan_mid_training_names_that_epoch_and_step(
    tiny_train_split: Dataset, tiny_config: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NaN appearing mid-training (here: in the features of a later step) names that epoch and step."""
    import model.trainer as trainer

    real_loss = trainer.causal_lattice_loss
    calls = {"n": 0}

    def loss_going_nan(output, x, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # epoch 2, step 1 with 3 steps per epoch
            x = x.clone()
            x[0, 0] = float("nan")
        return real_loss(output, x, *args, **kwargs)

    monkeypatch.setattr(trainer, "causal_lattice_loss", loss_going_nan)
    config = TrainConfig(batch_size=32, epochs=3)
    with pytest.raises(TrainingDivergedError, match=r"epoch 2, step 1\b"):
        train_model(tiny_train_split, tiny_config, config, None)
