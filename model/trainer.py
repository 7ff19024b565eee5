"""Training: a plain function from data and typed configs to a trained model and its history
(SPEC §2, seed VI.2)."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassAUROC, MulticlassF1Score

from model.config import ModelConfig, TrainConfig
from model.data import Dataset, Standardizer
from model.data_view import DataView
from model.losses import causal_lattice_loss
from model.metrics import KLCausal, LaplacianEnergy, UtilityEntropy
from model.transformer import CausalLatticeTransformer

logger = logging.getLogger("causal_lattice.train")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch, step and the offending terms."""


@dataclass
class EpochRecord:
    epoch: int
    loss: dict[str, float]
    train_accuracy: float | None
    utility_per_block: list[float]
    utility_entropy: float
    grad_norms: dict[str, float]  # mean L2 norm per parameter over the epoch's steps
    seconds: float


@dataclass
class FitResult:
    """What the optimisation loop returns: the fitted network and its per-epoch history (no test metrics,
    no standardisation: the training step packages those into a `TrainedModel`)."""

    model: CausalLatticeTransformer
    history: list[EpochRecord] = field(default_factory=list)

    def gradient_log(self) -> dict[str, list[float]]:
        """Per-parameter gradient norm per epoch, for `logs/grad/*.json`."""
        names = self.history[0].grad_norms.keys() if self.history else []
        return {name: [record.grad_norms[name] for record in self.history] for name in names}


def resolve_device(requested: str) -> torch.device:
    """`auto` picks CUDA when available; asking for `cuda` without a GPU is an error, not a silent fallback."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is available: use 'auto' or 'cpu'")
    return torch.device(requested)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch and make torch pick deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # CUDA has no deterministic kernel for some scatter/index ops used in message passing: warn there instead
    # of failing. The CPU path stays strictly deterministic (bit-identical reruns).
    torch.use_deterministic_algorithms(True, warn_only=torch.cuda.is_available())


def _tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    x = torch.from_numpy(np.ascontiguousarray(dataset.features, dtype=np.float32))
    y = torch.from_numpy(dataset.labels) if dataset.labels is not None else None
    groups = None
    if dataset.groups is not None:
        _, codes = np.unique(dataset.groups, return_inverse=True)
        groups = torch.from_numpy(codes.astype(np.int64))
    return x, y, groups


def log_epoch(record: EpochRecord, epochs: int) -> None:
    accuracy = "" if record.train_accuracy is None else f" acc={record.train_accuracy:.3f}"
    logger.info(
        "epoch %d/%d loss=%.4f%s sem=%.3f util=%s (%.1fs)",
        record.epoch,
        epochs,
        record.loss["total"],
        accuracy,
        record.loss["sem"],
        "/".join(f"{u:.2f}" for u in record.utility_per_block),
        record.seconds,
    )


def train_model(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    progress: Callable[[EpochRecord, int], None] | None = log_epoch,
) -> FitResult:
    """Train a causal lattice transformer on standardised `dataset` (the training split).

    Seeds everything from `train_config.seed`, so the same seed and config give bit-identical weights and
    metrics on CPU. Raises TrainingDivergedError on a NaN/Inf loss.
    """
    seed_everything(train_config.seed)
    device = resolve_device(train_config.device)
    x, y, groups = (None if t is None else t.to(device) for t in _tensors(dataset))
    assert x is not None
    model = CausalLatticeTransformer(
        dataset.feature_names, dataset.n_classes if y is not None else 0, model_config
    ).to(device)
    lattice_params = [model.lattice_encoder.theta]
    other_params = [p for n, p in model.named_parameters() if n != "lattice_encoder.theta"]
    param_groups: list[dict[str, Any]] = [
        {"params": other_params},
        {"params": lattice_params, "lr": train_config.lattice_lr, "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(
        param_groups,
        lr=train_config.lr,
        weight_decay=train_config.weight_decay,
    )
    # The shuffling generator lives on the CPU, so the sample order is the same on every device.
    generator = torch.Generator().manual_seed(train_config.seed)
    n = x.shape[0]
    need_weights = train_config.lambdas.causal > 0
    names = [name for name, _ in model.named_parameters()]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=train_config.precision == "bf16")
    result = FitResult(model=model)
    for epoch in range(1, train_config.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        # Sums stay on the device and are read once per epoch: no host sync per step.
        loss_sums: dict[str, torch.Tensor] = {}
        grad_sums = torch.zeros(len(names), device=device)
        steps = 0
        accuracy = (
            MulticlassAccuracy(num_classes=max(model.n_classes, 2)).to(device) if y is not None else None
        )
        entropy = UtilityEntropy(model_config.n_blocks).to(device)
        # Batches of one sample break batch statistics (V-REx variance); fold a trailing single row in.
        batches = list(order.split(train_config.batch_size))
        if len(batches) > 1 and batches[-1].numel() < 2:
            tail = batches.pop()
            batches[-1] = torch.cat([batches[-1], tail])
        for step, index in enumerate(batches):
            xb = x[index]
            yb = y[index] if y is not None else None
            gb = groups[index] if groups is not None else None
            with autocast:
                output = model(xb, need_weights=need_weights)
                loss = causal_lattice_loss(output, xb, yb, gb, model.causal_prior(), train_config)
            if not torch.isfinite(loss.total):
                bad = [k for k, v in loss.terms.items() if not torch.isfinite(v)]
                raise TrainingDivergedError(
                    f"loss is {loss.total.item()} at epoch {epoch}, step {step} "
                    f"(non-finite terms: {bad or 'sum'}); lower train.lr (now {train_config.lr}) "
                    f"or train.lattice_lr (now {train_config.lattice_lr})"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            grad_sums += torch.stack(
                [
                    p.grad.detach().float().norm(2) if p.grad is not None else grad_sums.new_zeros(())
                    for p in model.parameters()
                ]
            )
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_config.grad_clip)
            optimizer.step()
            steps += 1
            for key, value in {"total": loss.total, **loss.terms}.items():
                value = value.detach().float()
                loss_sums[key] = loss_sums[key] + value if key in loss_sums else value
            if accuracy is not None and output.logits is not None and yb is not None:
                accuracy.update(output.logits.detach().float(), yb)
            entropy.update(output.utilities.float())
        record = EpochRecord(
            epoch=epoch,
            loss={k: float(v) / steps for k, v in loss_sums.items()},
            train_accuracy=float(accuracy.compute()) if accuracy is not None else None,
            utility_per_block=[float(u) for u in entropy.mean_utility()],
            utility_entropy=float(entropy.compute()),
            grad_norms=dict(zip(names, (grad_sums / steps).tolist(), strict=True)),
            seconds=time.perf_counter() - started,
        )
        result.history.append(record)
        if progress is not None:
            progress(record, train_config.epochs)
    # Artifacts, analysis and serving run on the CPU; the device only matters for training.
    model.cpu()
    model.eval()
    return result


@torch.no_grad()
def evaluate_model(
    model: CausalLatticeTransformer, dataset: Dataset, dense: bool = False
) -> dict[str, float]:
    """Accuracy/AUROC/F1 (gated inference unless `dense`), kl_causal, laplacian and utility_entropy."""
    model.eval()
    x, y, _ = _tensors(dataset)
    output = model(x, dense=dense)
    results: dict[str, float] = {}
    if output.logits is not None and y is not None:
        classes = max(model.n_classes, 2)
        results["accuracy"] = float(
            MulticlassAccuracy(num_classes=classes, average="micro")(output.logits, y)
        )
        results["auroc"] = float(MulticlassAUROC(num_classes=classes)(output.logits.softmax(-1), y))
        results["f1"] = float(MulticlassF1Score(num_classes=classes, average="macro")(output.logits, y))
    dense_output = model(x, dense=True, need_weights=True)
    kl = KLCausal()
    kl.update(dense_output.attentions, model.causal_prior())
    laplacian = LaplacianEnergy()
    laplacian.update(output.feature_states, output.adjacency)
    entropy = UtilityEntropy(model.config.n_blocks)
    entropy.update(output.utilities)
    results["kl_causal"] = float(kl.compute())
    results["laplacian"] = float(laplacian.compute())
    results["utility_entropy"] = float(entropy.compute())
    results["reconstruction_mse"] = float(torch.mean((output.reconstruction - x) ** 2))
    results["gate_on_share"] = float(output.gates.mean())
    if not all(math.isfinite(v) for v in results.values()):
        raise TrainingDivergedError(f"evaluation produced non-finite metrics: {results}")
    return results


@dataclass
class TrainedModel:
    """The pipeline's `trained_model` artifact: the fitted network with everything needed to use and audit it,
    its training history, held-out test metrics, the `Standardizer` its inputs go through, and which data
    view and seed produced it."""

    model: CausalLatticeTransformer
    history: list[EpochRecord]
    test_metrics: dict[str, float]
    standardizer: Standardizer
    view: DataView
    seed: int
    n_train: int
    n_test: int
