from __future__ import annotations

import networkx as nx
import pytest
import torch

from model.lattice import LatticeEncoder, notears_acyclicity
from model.tokenizer import FeatureTokenizer
from tests.model.conftest import assert_finite_nonzero_grads


@pytest.fixture
def encoder(feature_names: list[str]) -> LatticeEncoder:
    torch.manual_seed(0)
    return LatticeEncoder(feature_names, 16, temperature=0.5, threshold=0.3)


def test_adjacency_range_and_zero_diagonal(encoder: LatticeEncoder) -> None:
    adjacency = encoder.adjacency()
    assert adjacency.shape == (6, 6)
    assert torch.equal(adjacency.diagonal(), torch.zeros(6))
    off = adjacency[~torch.eye(6, dtype=torch.bool)]
    assert ((off > 0) & (off < 1)).all()
    torch.testing.assert_close(adjacency, torch.sigmoid(encoder.theta / 0.5) * (1 - torch.eye(6)))


def test_forward_and_reconstruct_shapes_and_gradients(encoder: LatticeEncoder) -> None:
    torch.manual_seed(1)
    tokenizer = FeatureTokenizer(6, 16)
    x = torch.randn(4, 6)
    tokens = tokenizer.feature_tokens(x)
    adjacency = encoder.adjacency()
    passed = encoder(tokens, adjacency)
    reconstruction = encoder.reconstruct(tokens, tokenizer.identity, adjacency)
    assert passed.shape == (4, 6, 16)
    assert reconstruction.shape == (4, 6)
    (passed.pow(2).mean() + (reconstruction - x).pow(2).mean()).backward()
    assert_finite_nonzero_grads(encoder)
    assert_finite_nonzero_grads(tokenizer, skip=("cls",))


def test_message_passing_follows_edge_weights(encoder: LatticeEncoder) -> None:
    """With an empty lattice the conv only sees each node itself; adding edge i->j changes node j only."""
    tokens = torch.randn(2, 6, 16)
    empty = torch.zeros(6, 6)
    one_edge = empty.clone()
    one_edge[1, 4] = 1.0
    changed = (encoder(tokens, one_edge) - encoder(tokens, empty)).abs().sum(dim=(0, 2))
    assert changed[4] > 0
    assert torch.equal(changed[[0, 1, 2, 3, 5]], torch.zeros(5))


@pytest.mark.parametrize("j", [0, 3, 5])
def test_sem_head_cannot_see_its_own_variable(encoder: LatticeEncoder, j: int) -> None:
    torch.manual_seed(2)
    tokenizer = FeatureTokenizer(6, 16)
    x = torch.randn(5, 6)
    perturbed = x.clone()
    perturbed[:, j] += torch.randn(5) * 5.0
    adjacency = encoder.adjacency()
    with torch.no_grad():
        before = encoder.reconstruct(tokenizer.feature_tokens(x), tokenizer.identity, adjacency)
        after = encoder.reconstruct(tokenizer.feature_tokens(perturbed), tokenizer.identity, adjacency)
    assert torch.equal(after[:, j], before[:, j])
    others = [k for k in range(6) if k != j]
    # Every other variable has j as a (soft) parent, so its prediction moves.
    assert ((after[:, others] - before[:, others]).abs() > 0).all()


def test_sem_head_in_full_model_ignores_own_variable(tiny_model, x_batch: torch.Tensor) -> None:
    tiny_model.eval()
    perturbed = x_batch.clone()
    perturbed[:, 2] = -perturbed[:, 2] + 3.0
    with torch.no_grad():
        before = tiny_model(x_batch, dense=True).reconstruction
        after = tiny_model(perturbed, dense=True).reconstruction
    assert torch.equal(after[:, 2], before[:, 2])
    assert not torch.equal(after, before)


def test_get_graph_nodes_are_feature_names_and_weights_match(encoder: LatticeEncoder) -> None:
    with torch.no_grad():
        encoder.theta.fill_(-10.0)
        encoder.theta[0, 1] = 1.0  # A = sigmoid(2) = 0.88
        encoder.theta[2, 3] = 0.0  # A = 0.5
        encoder.theta[4, 5] = -0.2  # A = sigmoid(-0.4) = 0.40
        encoder.theta[5, 0] = -1.0  # A = sigmoid(-2) = 0.12, below the threshold
        encoder.theta[3, 3] = 10.0  # diagonal: masked, never an edge
    adjacency = encoder.adjacency().detach()
    graph = encoder.get_graph(0.3)
    assert isinstance(graph, nx.DiGraph)
    assert list(graph.nodes) == encoder.feature_names
    assert set(graph.edges) == {("f0", "f1"), ("f2", "f3"), ("f4", "f5")}
    names = encoder.feature_names
    for source, target, weight in graph.edges(data="weight"):
        assert weight == pytest.approx(float(adjacency[names.index(source), names.index(target)]))
    # The default threshold is the encoder's own (0.3 here); a higher one drops the weaker edges.
    assert set(encoder.get_graph().edges) == set(graph.edges)
    assert set(encoder.get_graph(0.6).edges) == {("f0", "f1")}


def test_notears_acyclicity_zero_for_dag_positive_for_cycle() -> None:
    dag = torch.zeros(4, 4)
    dag[0, 1] = dag[1, 2] = dag[0, 3] = dag[2, 3] = 0.9
    assert float(notears_acyclicity(dag)) == pytest.approx(0.0, abs=1e-5)
    cycle = dag.clone()
    cycle[3, 0] = 0.9
    assert float(notears_acyclicity(cycle)) > 0.1
    two_cycle = torch.zeros(3, 3)
    two_cycle[0, 1] = two_cycle[1, 0] = 1.0
    # tr(exp(M)) - n for the 2-cycle with unit weights is 2*cosh(1) - 2.
    assert float(notears_acyclicity(two_cycle)) == pytest.approx(
        2 * torch.cosh(torch.tensor(1.0)).item() - 2, rel=1e-5
    )


def test_notears_gradient_pushes_cycle_edges_down() -> None:
    theta = torch.full((3, 3), 0.5, requires_grad=True)
    notears_acyclicity(theta * (1 - torch.eye(3))).backward()
    assert theta.grad is not None
    off = theta.grad[~torch.eye(3, dtype=torch.bool)]
    assert (off > 0).all() and torch.isfinite(off).all()
