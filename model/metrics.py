"""Metrics: torchmetrics `Metric`s for the model's causal quantities, lattice graph statistics (networkx),
structure recovery against a known DAG, and FLOPs of a forward pass (torch.utils.flop_counter)."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchmetrics import Metric
from torchmetrics.classification import BinaryAUROC, MulticlassAccuracy

from model.attention import attention_kl
from model.losses import dirichlet_energy
from model.transformer import CausalLatticeTransformer


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


def lattice_degree_variance(graph: nx.DiGraph) -> float:
    """Variance of the normalised (in + out) degree centrality over nodes."""
    if graph.number_of_nodes() < 2:
        return 0.0
    return float(np.var(list(nx.degree_centrality(graph).values())))


def lattice_sparsity(graph: nx.DiGraph) -> float:
    """Share of possible directed edges that are absent (1 - density)."""
    return 1.0 - nx.density(graph) if graph.number_of_nodes() > 1 else 1.0


def isolated_node_share(graph: nx.DiGraph) -> float:
    return len(list(nx.isolates(graph))) / max(graph.number_of_nodes(), 1)


@dataclass(frozen=True)
class StructureRecovery:
    shd: int
    precision: float
    recall: float
    edge_auroc: float


def structure_recovery(
    adjacency: np.ndarray, feature_names: list[str], true_graph: nx.DiGraph, threshold: float
) -> StructureRecovery:
    """Compare a learned weighted adjacency with the true DAG.

    SHD counts missing, extra and reversed edges (a reversal counts once). Edge AUROC ranks every ordered
    pair (i != j) by A_ij against the true directed edges.
    """
    index = {name: k for k, name in enumerate(feature_names)}
    truth = np.zeros_like(adjacency, dtype=bool)
    for source, target in true_graph.edges():
        truth[index[source], index[target]] = True
    predicted = adjacency >= threshold
    np.fill_diagonal(predicted, False)
    off_diagonal = ~np.eye(len(feature_names), dtype=bool)
    true_skeleton = truth | truth.T
    predicted_skeleton = predicted | predicted.T
    upper = np.triu(off_diagonal)
    skeleton_errors = int((true_skeleton != predicted_skeleton)[upper].sum())
    both = true_skeleton & predicted_skeleton & upper
    reversed_edges = int(
        sum(
            1
            for i, j in zip(*np.nonzero(both), strict=True)
            if (truth[i, j], truth[j, i]) != (predicted[i, j], predicted[j, i])
        )
    )
    true_positive = int((predicted & truth).sum())
    precision = true_positive / max(int(predicted.sum()), 1)
    recall = true_positive / max(int(truth.sum()), 1)
    scores = torch.from_numpy(adjacency[off_diagonal].astype(np.float32))
    targets = torch.from_numpy(truth[off_diagonal].astype(np.int64))
    auroc = (
        float(BinaryAUROC()(scores, targets)) if 0 < int(targets.sum()) < targets.numel() else float("nan")
    )
    return StructureRecovery(
        shd=skeleton_errors + reversed_edges, precision=precision, recall=recall, edge_auroc=auroc
    )


@torch.no_grad()
def kl_causal(model: CausalLatticeTransformer, x: torch.Tensor, rows_per_chunk: int = 256) -> float:
    """`kl_causal` of the dense pass over `x`: the mean over every feature query row (and heads, blocks,
    samples) of KL(attention_i ‖ P_i), a chunk of rows at a time."""
    metric = KLCausal().to(x.device)
    for rows in torch.arange(1, len(model.feature_names) + 1, device=x.device).split(rows_per_chunk):
        metric.update(model(x, dense=True, weight_rows=rows).attentions, model.prior[rows - 1])
    return float(metric.compute())


def forward_flops(model: torch.nn.Module, x: torch.Tensor, dense: bool) -> int:
    """FLOPs of one inference forward pass, counted by torch's FlopCounterMode."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x, dense=dense)
    model.train(was_training)
    return int(counter.get_total_flops())


def epoch_accuracy(
    predictions: list[torch.Tensor], y: torch.Tensor | None, step_rows: list[torch.Tensor], n_classes: int
) -> float | None:
    """Training accuracy over an epoch's steps, from each step's predicted classes (None without labels)."""
    if y is None or not predictions:
        return None
    metric = MulticlassAccuracy(num_classes=max(n_classes, 2), validate_args=False).to(y.device)
    return float(metric(torch.cat(predictions), y[torch.cat(step_rows)]))
