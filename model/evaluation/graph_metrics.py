"""What the protocol measures of a trained model beyond its predictions: lattice graph statistics (networkx),
structure recovery against a known DAG, and the FLOPs of a forward pass (torch.utils.flop_counter)."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchmetrics.classification import BinaryAUROC


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


def forward_flops(model: torch.nn.Module, x: torch.Tensor, dense: bool) -> int:
    """FLOPs of one inference forward pass, counted by torch's FlopCounterMode."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x, dense=dense)
    model.train(was_training)
    return int(counter.get_total_flops())
