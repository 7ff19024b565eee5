from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from model.artifacts import EpochRecord
from model.config import ModelConfig, TrainConfig
from model.data.batching import balanced_batches, shuffled_batches
from model.data.tables import Dataset
from model.errors import TrainingDivergedError, TrainingOutOfMemoryError
from model.nn.transformer import CausalLatticeTransformer
from model.training.trainer import evaluate_model, train_model
from tests.model.conftest import TINY_STRUCTURE


def _comparable(history: list[EpochRecord]) -> list[dict]:
    """Every field of the history except wall-clock seconds."""
    return [{k: v for k, v in dataclasses.asdict(r).items() if k != "seconds"} for r in history]


def test_trains_both_phases_and_records_history(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    seen: list[tuple[int, int]] = []
    rounds: list[float] = []
    result = train_model(
        tiny_train_split,
        tiny_config,
        tiny_train_config,
        lambda r, n: seen.append((r.epoch, n)),
        lambda record: rounds.append(record["round"]),
    )
    assert seen == [(1, 2), (2, 2)]
    assert result.structure is not None and rounds == [1.0, 2.0, 3.0][: result.structure.rounds]
    record = result.history[-1]
    assert record.train_accuracy is not None and 0 <= record.train_accuracy <= 1
    assert len(record.utility_per_block) == 3 and record.utility_per_block[0] == 1.0
    assert 0 <= record.utility_entropy <= math.log(3) + 1e-6
    assert all(math.isfinite(v) for v in record.loss.values())
    # The predictor phase never trains the structure learner's parameters.
    assert not any(name.startswith("lattice_encoder.sem.") for name in record.grad_norms)
    structure = {f"structure.{name}" for name in result.structure.grad_norms}
    assert set(result.gradient_log()) == set(record.grad_norms) | structure
    assert len(result.gradient_log()["structure.edge_logits"]) == result.structure.rounds
    assert not result.model.training
    metrics = evaluate_model(result.model, tiny_train_split)
    for key in ("accuracy", "auroc", "f1", "kl_causal", "laplacian", "utility_entropy", "structure_nll"):
        assert math.isfinite(metrics[key]), key
    assert 0 <= metrics["route_on_share"] <= 1
    assert evaluate_model(result.model, tiny_train_split, dense=True)["route_on_share"] == 1.0


def test_the_predictor_phase_leaves_the_lattice_as_the_structure_phase_made_it(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    no_epochs = train_model(
        tiny_train_split, tiny_config, tiny_train_config.model_copy(update={"epochs": 1}), None
    )
    more = train_model(
        tiny_train_split, tiny_config, tiny_train_config.model_copy(update={"epochs": 3}), None
    )
    for name in ("edge_logits", "weight"):
        assert torch.equal(
            getattr(no_epochs.model.lattice_encoder.sem, name), getattr(more.model.lattice_encoder.sem, name)
        )
    ablation = tiny_train_config.model_copy(
        update={"epochs": 3, "structure": TINY_STRUCTURE.model_copy(update={"task_gradient": True})}
    )
    moved = train_model(tiny_train_split, tiny_config, ablation, None)
    assert not torch.equal(
        moved.model.lattice_encoder.sem.edge_logits, more.model.lattice_encoder.sem.edge_logits
    )


def test_training_leaves_torch_global_settings_as_it_found_them(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    before = (torch.are_deterministic_algorithms_enabled(), torch.get_float32_matmul_precision())
    seen: list[bool] = []
    train_model(
        tiny_train_split,
        tiny_config,
        tiny_train_config.model_copy(update={"epochs": 1}),
        lambda record, epochs: seen.append(torch.are_deterministic_algorithms_enabled()),
    )
    assert seen == [True]  # deterministic kernels while training on the CPU
    assert (torch.are_deterministic_algorithms_enabled(), torch.get_float32_matmul_precision()) == before


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


def test_latent_compactness_tightens_the_classes_in_z(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    """Off (the default) the within-over-total scatter of z is only logged; weighted, the training lowers it."""
    config = tiny_train_config.model_copy(update={"epochs": 6})
    off = train_model(tiny_train_split, tiny_config, config, None)
    on = train_model(
        tiny_train_split, tiny_config, config.model_copy(update={"latent_compactness": 10.0}), None
    )
    assert all(0.0 <= record.loss["latent_scatter"] <= 1.0 for record in off.history)
    assert on.history[-1].loss["latent_scatter"] < off.history[-1].loss["latent_scatter"]


def test_different_seeds_differ(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    first = train_model(tiny_train_split, tiny_config, tiny_train_config, None)
    other = train_model(tiny_train_split, tiny_config, tiny_train_config.model_copy(update={"seed": 7}), None)
    state_a, state_b = first.model.state_dict(), other.model.state_dict()
    assert any(not torch.equal(state_a[name], state_b[name]) for name in state_a)
    assert _comparable(first.history) != _comparable(other.history)


def test_unlabeled_mode_is_a_pure_structure_learner(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    unlabeled = dataclasses.replace(tiny_train_split, labels=None, class_names=[])
    result = train_model(unlabeled, tiny_config, tiny_train_config.model_copy(update={"epochs": 1}), None)
    assert result.model.n_classes == 0 and result.model.head is None
    assert result.model.lattice_encoder.sem.label_node is None
    assert result.history[0].train_accuracy is None and result.history[0].loss["ce"] == 0.0
    metrics = evaluate_model(result.model, unlabeled)
    assert "accuracy" not in metrics and math.isfinite(metrics["structure_nll"])


def test_shuffled_batches_use_every_row_once_and_never_one_row() -> None:
    generator = torch.Generator().manual_seed(0)
    for n, size in ((61, 20), (61, 60), (7, 64)):
        batches = shuffled_batches(n, size, generator)
        assert min(len(b) for b in batches) >= 2
        assert sorted(torch.cat(batches).tolist()) == list(range(n))


def test_balanced_batches_hold_every_cohort_equally() -> None:
    codes = np.array([0] * 90 + [1] * 30 + [2] * 12)
    batches = balanced_batches(codes, 30, torch.Generator().manual_seed(0))
    assert len(batches) == math.ceil(len(codes) / 30)
    for batch in batches:
        assert np.bincount(codes[batch.numpy()], minlength=3).tolist() == [10, 10, 10]
    # the largest cohort is not revisited within an epoch; small ones are, in a fresh order
    first = torch.cat([b[np.isin(codes[b.numpy()], [0])] for b in batches])
    assert len(set(first.tolist())) == len(first)


def test_a_balanced_batch_larger_than_the_table_is_one_batch_of_the_tables_size() -> None:
    codes = np.array([0] * 9 + [1] * 6 + [2] * 3)
    (batch,) = balanced_batches(codes, 2**33, torch.Generator().manual_seed(0))
    assert len(batch) == len(codes) and np.bincount(codes[batch.numpy()]).tolist() == [6, 6, 6]


def test_nan_features_raise_diverged_error_naming_the_phase(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    features = tiny_train_split.features.copy()
    features[:, 0] = np.nan  # as if NaNs slipped in after validation
    poisoned = dataclasses.replace(tiny_train_split, features=features)
    with pytest.raises(TrainingDivergedError, match=r"structure round 1: check the features for NaN"):
        train_model(poisoned, tiny_config, tiny_train_config, None)


def test_huge_learning_rate_diverges_with_a_clear_error(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig
) -> None:
    config = tiny_train_config.model_copy(update={"lr": 1e20, "epochs": 3})
    with pytest.raises(
        TrainingDivergedError, match=r"non-finite in epoch \d+ .*lower train\.lr \(now 1e\+20\)"
    ):
        train_model(tiny_train_split, tiny_config, config, None)


def test_cuda_out_of_memory_becomes_one_line_naming_the_size_and_what_to_lower(
    tiny_train_split: Dataset, tiny_config: ModelConfig, tiny_train_config: TrainConfig, monkeypatch
) -> None:
    """The GPU running out in the predictor's forward (torch's own exception class, raised on this CPU)."""

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.40 GiB. GPU 0 has a total capacity of 79.19 GiB of which "
            "1.02 GiB is free.\nIncluding non-PyTorch memory, this process has 78.16 GiB memory in use."
        )

    monkeypatch.setattr(CausalLatticeTransformer, "forward", out_of_memory)
    with pytest.raises(TrainingOutOfMemoryError) as error:
        train_model(tiny_train_split, tiny_config, tiny_train_config, None, None)
    line = str(error.value)
    assert "\n" not in line and line.startswith(
        "CUDA out of memory (allocating 2.40 GiB) training on 6 features"
    )
    assert f"train.batch_size {tiny_train_config.batch_size}, precision fp32" in line
    assert "lower train.batch_size" in line and "set train.precision: bf16" in line
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_evaluate_model_reports_what_the_head_and_the_readout_each_carry() -> None:
    """The part accuracies are those of each part's logits alone (the head's bias kept): a readout of the one
    cause alone is exact, and the head's part is the argmax of its own logits."""
    from tests.model.conftest import set_lattice

    torch.manual_seed(0)
    config = ModelConfig(d_model=16, n_heads=2, n_blocks=3, d_latent=8, rope_dims=2)
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(6)]
    features = rng.normal(size=(64, 6)).astype(np.float32)
    labels = (features[:, 0] > 0).astype(np.int64)
    dataset = Dataset(features=features, feature_names=names, labels=labels, class_names=["a", "b"])
    model = CausalLatticeTransformer(names, 2, config)
    set_lattice(model, [(0, 6)])  # f0 causes the label (node 6): every feature is readable
    with torch.no_grad():  # a readout of f0 alone, beside a random head
        model.readable_readout.copy_(torch.tensor([[-3.0, 0, 0, 0, 0, 0], [3.0, 0, 0, 0, 0, 0]]))
    metrics = evaluate_model(model, dataset)
    assert metrics["accuracy_readout_part"] == 1.0
    with torch.no_grad():
        expected = model.head(model(torch.from_numpy(features)).z).argmax(-1).numpy()
    assert metrics["accuracy_head_part"] == pytest.approx(float((expected == labels).mean()))
    assert metrics["accuracy_head_part"] < metrics["accuracy_readout_part"]
