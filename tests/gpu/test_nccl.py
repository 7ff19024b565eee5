"""Data-parallel training on two GPUs over NCCL (model/training/launch.py): the ranks end with equal parameters
(checked inside the training), the losses stay close to one GPU's on the same global batches, and the same seed
on the same two GPUs gives the same metrics run to run.

Skipped without two CUDA devices (CI has none); run on a multi-GPU machine with `pytest tests/gpu`.
"""

from __future__ import annotations

import pytest
import torch

from model.config import ModelConfig, SplitConfig, StructureConfig, SyntheticDataConfig, TrainConfig
from model.data.generator import make_synthetic_pancancer
from model.data.splits import split_dataset
from model.training.launch import train_on_ranks
from model.training.trainer import evaluate_model, train_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices"),
]

CONFIG = ModelConfig(d_model=32, n_heads=2, n_blocks=3, d_latent=8)


def _train_config(devices: int) -> TrainConfig:
    # fp32 and eager blocks: the comparison with one GPU is about the data parallelism, not bf16 or compile.
    return TrainConfig(
        epochs=3,
        batch_size=64,
        lr=1e-3,
        device="cuda",
        devices=devices,
        precision="fp32",
        compile="off",
        structure=StructureConfig(steps_per_round=20, min_rounds=2, max_rounds=3),
    )


def test_two_gpus_over_nccl_agree_and_repeat() -> None:
    data = make_synthetic_pancancer(SyntheticDataConfig(n_samples=800, n_genes=10, n_biomarkers=2))
    split = split_dataset(data, SplitConfig())
    one = train_model(split.train, CONFIG, _train_config(1), None, None)
    runs = [
        train_on_ranks(split.train, CONFIG, _train_config(2), torch.device("cuda"), 2, 1) for _ in range(2)
    ]
    losses = [[r.loss["total"] for r in run.history] for run in runs]
    assert losses[0] == pytest.approx([r.loss["total"] for r in one.history], rel=0.05)
    metrics = [evaluate_model(run.model, split.test) for run in runs]
    assert metrics[0]["accuracy"] == pytest.approx(metrics[1]["accuracy"], abs=0.02)
    assert losses[0] == pytest.approx(losses[1], rel=1e-3)
