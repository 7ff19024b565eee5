"""Shared tiny fixtures for the model unit tests (CPU, d_model=16, 2 heads, 3 blocks, 6 features)."""

from __future__ import annotations

import pytest
import torch

from model.config import ModelConfig, SplitConfig, StructureConfig, SyntheticDataConfig, TrainConfig
from model.data.generator import make_synthetic_pancancer
from model.data.splits import split_dataset
from model.data.tables import Dataset
from model.nn.transformer import CausalLatticeTransformer

N_FEATURES = 6
FEATURE_NAMES = [f"f{i}" for i in range(N_FEATURES)]

# The tiny models gain nothing from intra-op threads, and the test machine is shared: one thread avoids
# oversubscription.
torch.set_num_threads(1)


@pytest.fixture
def tiny_config() -> ModelConfig:
    return ModelConfig(d_model=16, n_heads=2, n_blocks=3, d_latent=8, rope_dims=2)


@pytest.fixture
def feature_names() -> list[str]:
    return list(FEATURE_NAMES)


@pytest.fixture
def tiny_model(tiny_config: ModelConfig, feature_names: list[str]) -> CausalLatticeTransformer:
    torch.manual_seed(0)
    return CausalLatticeTransformer(feature_names, 2, tiny_config)


@pytest.fixture
def x_batch() -> torch.Tensor:
    return torch.randn(8, N_FEATURES, generator=torch.Generator().manual_seed(1))


def tiny_synthetic_config(**overrides: object) -> SyntheticDataConfig:
    """4 genes + 2 biomarkers = 6 features, 120 rows over three cohorts."""
    values: dict[str, object] = {
        "n_samples": 120,
        "n_genes": 4,
        "n_causal_genes": 2,
        "n_biomarkers": 2,
        "seed": 3,
    }
    values.update(overrides)
    return SyntheticDataConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def tiny_dataset() -> Dataset:
    return make_synthetic_pancancer(tiny_synthetic_config())


@pytest.fixture
def tiny_train_split(tiny_dataset: Dataset) -> Dataset:
    return split_dataset(tiny_dataset, SplitConfig(test_fraction=0.25, min_group_size=10)).train


# A structure phase of a few dozen steps, and label-edge search refits of 40 (200 by default): enough to exercise
# every part of it in milliseconds.
TINY_STRUCTURE = StructureConfig(
    steps_per_round=20, warmup_rounds=1, min_rounds=2, max_rounds=3, orientation_steps=40
)


@pytest.fixture
def tiny_train_config() -> TrainConfig:
    return TrainConfig(seed=42, batch_size=32, epochs=2, lr=1e-3, structure=TINY_STRUCTURE)


def set_lattice(model: CausalLatticeTransformer, edges: list[tuple[int, int]]) -> None:
    """Give the model exactly these lattice edges (node indices; the label, when there is one, is node F) and
    re-derive what the predictor reads."""
    sem = model.lattice_encoder.sem
    with torch.no_grad():
        sem.edge_logits.fill_(-10.0)
        for source, target in edges:
            sem.edge_logits[source, target] = 10.0
    model.refresh_lattice()


def set_router_bias(model: CausalLatticeTransformer, value: float) -> None:
    """Force every router's final bias (hence every routed gate) on (+100) or off (-100)."""
    with torch.no_grad():
        for router in model.meta_utility_layer.routers:
            router[-1].bias.fill_(value)


def assert_finite_nonzero_grads(module: torch.nn.Module, skip: tuple[str, ...] = ()) -> None:
    missing, bad = [], []
    for name, parameter in module.named_parameters():
        if any(name.startswith(prefix) for prefix in skip):
            continue
        if parameter.grad is None:
            missing.append(name)
        elif not torch.isfinite(parameter.grad).all() or not parameter.grad.abs().sum() > 0:
            bad.append(name)
    assert not missing, f"no gradient for {missing}"
    assert not bad, f"zero or non-finite gradient for {bad}"
