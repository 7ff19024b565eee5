"""The training's metrics as torchmetrics `Metric`s: attention KL to the causal prior, Laplacian energy, utility entropy and accuracy."""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy

from model.nn.attention import attention_kl
from model.nn.transformer import CausalLatticeTransformer
from model.training.data_parallel import ONE_DEVICE, DataParallel
from model.training.losses import dirichlet_energy


class _SampleWeightedMean(Metric):
    """Accumulates a per-batch mean weighted by batch size; subclasses say what the batch mean is."""

    full_state_update = False
    total: torch.Tensor
    count: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _add(self, batch_mean: torch.Tensor, batch: int) -> None:
        self.total += batch_mean.double() * batch
        self.count += batch

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp_min(1)).float()


class KLCausal(_SampleWeightedMean):
    """Mean over query rows (and blocks, heads) of KL(attention_i ‖ causal prior_i).

    `update` takes the explicit attention of some query rows, per block (B, heads, R, F+1), and the prior's
    rows for them (R, F); updates over disjoint row sets average to the mean over all rows."""

    def update(self, attentions: list[torch.Tensor], prior_rows: torch.Tensor) -> None:
        for attention in attentions:
            self._add(attention_kl(attention, prior_rows), attention.shape[0] * attention.shape[2])


class LaplacianEnergy(_SampleWeightedMean):
    """Normalised Dirichlet energy of the final feature-token states over the lattice's edges."""

    def update(self, states: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> None:
        self._add(dirichlet_energy(states, edge_index, edge_weight), states.shape[0])


class UtilityEntropy(Metric):
    """Entropy (nats) of the normalised mean utility per block; log(n_blocks) means uniform."""

    full_state_update = False
    utility_sum: torch.Tensor
    count: torch.Tensor

    def __init__(self, n_blocks: int) -> None:
        super().__init__()
        self.add_state(
            "utility_sum", default=torch.zeros(n_blocks, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, utilities: torch.Tensor) -> None:
        self.utility_sum += utilities.detach().double().sum(dim=0)
        self.count += utilities.shape[0]

    def mean_utility(self) -> torch.Tensor:
        return (self.utility_sum / self.count.clamp_min(1)).float()

    def compute(self) -> torch.Tensor:
        return utility_entropy(self.mean_utility())


def utility_entropy(mean_utility: torch.Tensor) -> torch.Tensor:
    share = mean_utility / mean_utility.sum().clamp_min(1e-12)
    return -(share * share.clamp_min(1e-12).log()).sum()


@torch.no_grad()
def kl_causal(model: CausalLatticeTransformer, x: torch.Tensor, rows_per_chunk: int = 256) -> float:
    """`kl_causal` of the dense pass over `x`: the mean over every feature query row (and heads, blocks,
    samples) of KL(attention_i ‖ P_i), a chunk of rows at a time."""
    metric = KLCausal().to(x.device)
    for rows in torch.arange(1, len(model.feature_names) + 1, device=x.device).split(rows_per_chunk):
        metric.update(model(x, dense=True, weight_rows=rows).attentions, model.prior[rows - 1])
    return float(metric.compute())


def epoch_accuracy(
    predictions: list[torch.Tensor],
    y: torch.Tensor | None,
    step_rows: list[torch.Tensor],
    n_classes: int,
    ranks: DataParallel = ONE_DEVICE,
) -> float | None:
    """Training accuracy over an epoch's steps, from each step's predicted classes (None without labels); over
    every rank's rows when `ranks` has more than one."""
    if y is None or not predictions:
        return None
    metric = MulticlassAccuracy(num_classes=max(n_classes, 2), validate_args=False, sync_on_compute=False)
    metric = metric.to(y.device)
    metric.update(torch.cat(predictions), y[torch.cat(step_rows)])
    ranks.sync(metric)
    return float(metric.compute())
