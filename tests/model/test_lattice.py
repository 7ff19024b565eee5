"""The lattice view the predictor reads, and message passing over it."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from model.nn.message_passing import LatticeEncoder
from model.structure.equations import StructuralEquationModel
from model.structure.graph_ops import aggregate_parents, hop_distances, transitive_closure
from tests.model.conftest import assert_finite_nonzero_grads


def _encoder(
    edges: list[tuple[int, int]], n_classes: int = 2, top_k: int = 8, reads: str = "non_descendants"
) -> LatticeEncoder:
    torch.manual_seed(0)
    sem = StructuralEquationModel(6, n_classes, 1)
    with torch.no_grad():
        sem.edge_logits.fill_(-10.0)
        for source, target in edges:
            sem.edge_logits[source, target] = 10.0
    return LatticeEncoder(
        [f"f{i}" for i in range(6)], 16, sem, threshold=0.5, top_k_parents=top_k, reads=reads
    )


def test_closure_and_distances_on_a_chain() -> None:
    linked = torch.zeros(4, 4, dtype=torch.bool)
    linked[0, 1] = linked[1, 2] = linked[2, 3] = True
    reach = transitive_closure(linked)
    assert reach[0].tolist() == [False, True, True, True]
    assert not reach.diagonal().any()
    assert hop_distances(linked)[0].tolist() == [0.0, 1.0, 2.0, 3.0]
    # symmetrised, and unreachable pairs get F
    isolated = torch.zeros(3, 3, dtype=torch.bool)
    assert hop_distances(isolated)[0].tolist() == [0.0, 3.0, 3.0]
    cycle = linked.clone()
    cycle[3, 0] = True
    assert transitive_closure(cycle).diagonal().all()


def test_view_readable_ancestors_and_dag() -> None:
    # f0 -> label -> f1 -> f2; f3 -> f4; f5 alone
    encoder = _encoder([(0, 6), (6, 1), (1, 2), (3, 4)])
    view = encoder.view()
    assert view.is_dag
    assert view.readable.tolist() == [True, False, False, True, True, True]
    # f0 is an ancestor of f2 through the label node
    assert view.ancestors[2].tolist() == [True, True, False, False, False, False]
    assert view.edge_index.T.tolist() == [[1, 2], [3, 4]]
    cyclic = _encoder([(0, 1), (1, 0)]).view()
    assert not cyclic.is_dag


def test_reading_the_label_parents_only() -> None:
    # f5 -> f0 -> label -> f1 -> f2; f3 -> label; f4 alone: the label's parents are f0 and f3.
    edges = [(5, 0), (0, 6), (3, 6), (6, 1), (1, 2)]
    assert _encoder(edges).view().readable.tolist() == [True, False, False, True, True, True]
    assert _encoder(edges, reads="label_parents").view().readable.tolist() == [
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    # In a cyclic lattice a parent that is also a descendant is not read.
    cyclic = _encoder([*edges, (6, 3)], reads="label_parents").view()
    assert cyclic.readable.tolist() == [True, False, False, False, False, False]
    # The read parents take no messages and attend to no feature outside the read parents; others keep theirs.
    both = _encoder([*edges, (3, 0)], reads="label_parents").view()
    assert (both.edge_index[1] != 0).all() and (both.edge_index[1] != 3).all()
    assert both.attends[0].tolist() == [False, False, False, True, False, False]  # f3, not f5
    assert both.ancestors[0].tolist() == [False, False, False, True, False, True]
    assert torch.equal(both.attends[[1, 2, 4, 5]], both.ancestors[[1, 2, 4, 5]])
    assert torch.equal(_encoder(edges).view().attends, _encoder(edges).view().ancestors)


def test_top_k_parents_keeps_the_most_probable() -> None:
    encoder = _encoder([(0, 5), (1, 5), (2, 5)], top_k=2)
    with torch.no_grad():
        encoder.sem.edge_logits[0, 5] = 3.0  # the least probable of the three parents
    view = encoder.view()
    assert sorted(view.edge_index[0].tolist()) == [1, 2]
    assert view.linked[:, 5].sum() == 3  # the lattice keeps all three; message passing reads two


def test_message_passing_goes_from_parents_to_children_only() -> None:
    encoder = _encoder([(1, 4)])
    view = encoder.view()
    tokens = torch.randn(2, 6, 16)
    base = encoder(tokens, view.edge_index, view.edge_weight)
    moved = tokens.clone()
    moved[:, 1] += 1.0  # the parent
    changed = (encoder(moved, view.edge_index, view.edge_weight) - base).abs().sum(dim=(0, 2))
    assert changed[4] > 0 and changed[1] > 0
    assert torch.equal(changed[[0, 2, 3, 5]], torch.zeros(4))
    child = tokens.clone()
    child[:, 4] += 1.0
    back = (encoder(child, view.edge_index, view.edge_weight) - base).abs().sum(dim=(0, 2))
    assert torch.equal(back[[0, 1, 2, 3, 5]], torch.zeros(5))


def test_message_passing_gradients() -> None:
    encoder = _encoder([(0, 1), (1, 2), (3, 2)])
    view = encoder.view()
    tokens = torch.randn(4, 6, 16, requires_grad=True)
    encoder(tokens, view.edge_index, view.edge_weight).pow(2).mean().backward()
    assert_finite_nonzero_grads(encoder, skip=("sem.",))


@pytest.mark.parametrize("with_label", [False, True])
def test_get_graph_names_and_weights(with_label: bool) -> None:
    encoder = _encoder([(0, 1), (6, 2)])
    graph = encoder.get_graph(label_name="[label]" if with_label else None)
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.edges) == ({("f0", "f1"), ("[label]", "f2")} if with_label else {("f0", "f1")})
    assert graph.edges["f0", "f1"]["weight"] == pytest.approx(float(torch.sigmoid(torch.tensor(10.0))))
    assert list(graph.nodes)[:6] == [f"f{i}" for i in range(6)]
    assert encoder.get_graph(threshold=0.99999999).number_of_edges() == 0


@pytest.mark.parametrize("n_edges", [0, 1, 40])
def test_shared_sparse_aggregation_equals_edge_wise_message_passing(n_edges: int) -> None:
    """The one sparse product over the batch gives what edge-wise gather/scatter gives, values and gradients
    (the states' and, for the task-gradient ablation, the edge weights'); repeated edges add up."""
    generator = torch.Generator().manual_seed(3)
    edge_index = torch.randint(0, 7, (2, n_edges), generator=generator)
    edge_weight = torch.rand(n_edges, generator=generator, requires_grad=True)
    states = torch.randn(3, 7, 4, generator=generator, requires_grad=True)
    shared = aggregate_parents(states, edge_index, edge_weight)
    source, target = edge_index
    edge_wise = torch.zeros(3, 7, 4).index_add(1, target, states[:, source] * edge_weight[None, :, None])
    assert torch.allclose(shared, edge_wise, atol=1e-6)
    upstream = torch.randn(3, 7, 4, generator=generator)
    got = torch.autograd.grad(shared, (states, edge_weight), upstream, allow_unused=True)
    want = torch.autograd.grad(edge_wise, (states, edge_weight), upstream, allow_unused=True)
    for mine, reference in zip(got, want, strict=True):
        assert mine is not None and reference is not None
        assert torch.allclose(mine, reference, atol=1e-5)
