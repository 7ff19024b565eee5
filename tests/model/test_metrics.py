from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from model.evaluation.graph_metrics import (
    isolated_node_share,
    lattice_degree_variance,
    lattice_sparsity,
    structure_recovery,
)
from model.training.metrics import KLCausal, LaplacianEnergy, UtilityEntropy, utility_entropy

NAMES = ["a", "b", "c", "d"]


def _truth() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(NAMES)
    graph.add_edges_from([("a", "b"), ("b", "c"), ("c", "d")])
    return graph


def _adjacency(edges: dict[tuple[str, str], float]) -> np.ndarray:
    adjacency = np.zeros((4, 4), dtype=np.float32)
    for (source, target), weight in edges.items():
        adjacency[NAMES.index(source), NAMES.index(target)] = weight
    return adjacency


def test_structure_recovery_perfect() -> None:
    result = structure_recovery(
        _adjacency({("a", "b"): 0.9, ("b", "c"): 0.8, ("c", "d"): 0.7}), NAMES, _truth(), 0.5
    )
    assert result.shd == 0
    assert result.precision == 1.0 and result.recall == 1.0
    assert result.edge_auroc == pytest.approx(1.0)


def test_structure_recovery_reversed_extra_and_missing() -> None:
    # b->a is a reversal of a->b, b->c is right, a->d is extra, c->d is missing (0.4 < threshold).
    adjacency = _adjacency({("b", "a"): 0.9, ("b", "c"): 0.8, ("a", "d"): 0.6, ("c", "d"): 0.4})
    result = structure_recovery(adjacency, NAMES, _truth(), 0.5)
    assert result.shd == 3  # one reversal + one extra + one missing
    assert result.precision == pytest.approx(1 / 3)
    assert result.recall == pytest.approx(1 / 3)
    off = ~np.eye(4, dtype=bool)
    truth = _adjacency({("a", "b"): 1, ("b", "c"): 1, ("c", "d"): 1}) > 0
    assert result.edge_auroc == pytest.approx(roc_auc_score(truth[off], adjacency[off]), abs=1e-6)


def test_structure_recovery_empty_prediction_and_diagonal_ignored() -> None:
    adjacency = np.eye(4, dtype=np.float32)  # the diagonal is never an edge
    result = structure_recovery(adjacency, NAMES, _truth(), 0.5)
    assert result.shd == 3
    assert result.precision == 0.0 and result.recall == 0.0
    assert result.edge_auroc == pytest.approx(0.5)


def test_structure_recovery_auroc_nan_without_true_edges() -> None:
    empty = nx.DiGraph()
    empty.add_nodes_from(NAMES)
    result = structure_recovery(_adjacency({("a", "b"): 0.9}), NAMES, empty, 0.5)
    assert result.shd == 1
    assert math.isnan(result.edge_auroc)


def test_utility_entropy_uniform_is_log_n() -> None:
    for n in (1, 3, 4):
        assert float(utility_entropy(torch.full((n,), 0.7))) == pytest.approx(math.log(n), abs=1e-6)
    assert float(utility_entropy(torch.tensor([1.0, 0.0, 0.0]))) == pytest.approx(0.0, abs=1e-6)
    metric = UtilityEntropy(3)
    metric.update(torch.full((5, 3), 0.5))
    metric.update(torch.full((2, 3), 0.9))
    assert float(metric.compute()) == pytest.approx(math.log(3), abs=1e-6)
    skewed = UtilityEntropy(3)
    skewed.update(torch.tensor([[1.0, 0.1, 0.1]]))
    assert 0 < float(skewed.compute()) < math.log(3)
    torch.testing.assert_close(skewed.mean_utility(), torch.tensor([1.0, 0.1, 0.1]))


def test_kl_causal_metric_is_the_mean_over_rows_and_samples() -> None:
    prior = torch.softmax(torch.randn(4, 4), dim=-1)
    matching = torch.zeros(3, 2, 4, 5)
    matching[..., 1:] = prior
    uniform = torch.full((1, 2, 4, 5), 0.2)
    metric = KLCausal()
    metric.update([matching], prior)
    assert float(metric.compute()) == pytest.approx(0.0, abs=1e-6)
    metric.update([uniform], prior)
    single = KLCausal()
    single.update([uniform], prior)
    assert float(metric.compute()) == pytest.approx(float(single.compute()) / 4, rel=1e-5)
    # Two halves of the query rows average to the KL over all rows.
    halves = KLCausal()
    halves.update([uniform[:, :, :2]], prior[:2])
    halves.update([uniform[:, :, 2:]], prior[2:])
    assert float(halves.compute()) == pytest.approx(float(single.compute()), rel=1e-5)


def test_laplacian_energy_metric() -> None:
    edges, weight = torch.tensor([[0], [1]]), torch.ones(1)
    metric = LaplacianEnergy()
    metric.update(torch.ones(2, 2, 4), edges, weight)
    assert float(metric.compute()) == 0.0
    states = torch.zeros(2, 2, 4)
    states[:, 1] = 1.0
    metric.update(states, edges, weight)
    assert float(metric.compute()) == pytest.approx(0.5)


def test_graph_statistics() -> None:
    graph = _truth()
    graph.add_node("e")
    assert isolated_node_share(graph) == pytest.approx(1 / 5)
    assert lattice_sparsity(graph) == pytest.approx(1 - 3 / 20)
    assert lattice_degree_variance(graph) > 0
    star = nx.DiGraph()
    star.add_edges_from([("a", "b"), ("b", "a")])
    assert lattice_degree_variance(star) == 0.0
