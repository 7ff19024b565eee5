"""The score check of the label's outgoing edges (model/label_orientation.py): a cause of the label that the fit
left as its child is turned back; true children and a right graph are left alone."""

from __future__ import annotations

import torch

from model.config import StructureConfig
from model.label_orientation import orient_label_edges, refit_mechanisms
from model.structure import StructuralEquationModel

ROOT, CAUSE, CHILD, LABEL = 0, 1, 2, 3


def _chain_data(n: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """root -> cause -> label -> child: the label is caused by `cause`, and `child` is caused by the label."""
    generator = torch.Generator().manual_seed(0)
    root = torch.randn(n, generator=generator)
    cause = 0.8 * root + 0.6 * torch.randn(n, generator=generator)
    label = (torch.rand(n, generator=generator) < torch.sigmoid(3.0 * cause)).long()
    child = 1.2 * (2.0 * label - 1.0) + torch.randn(n, generator=generator)
    x = torch.stack([root, cause, child], dim=1)
    return (x - x.mean(0)) / x.std(0), label


def _sem_on(edges: list[tuple[int, int]], x: torch.Tensor, y: torch.Tensor) -> StructuralEquationModel:
    """A structural-equation model whose lattice is exactly `edges`, mechanisms fitted on that graph."""
    torch.manual_seed(0)
    sem = StructuralEquationModel(n_features=3, n_classes=2)
    with torch.no_grad():
        sem.edge_logits.fill_(-10.0)
        for source, target in edges:
            sem.edge_logits[source, target] = 10.0
    refit_mechanisms(sem, sem.hard_mask(), x, y, None, StructureConfig(orientation_steps=300), seed=1)
    return sem


def test_a_cause_left_as_the_labels_child_is_turned_into_its_parent() -> None:
    x, y = _chain_data()
    # The fit's mistake: label -> cause, which makes `cause` a collider of root and label.
    sem = _sem_on([(ROOT, CAUSE), (LABEL, CAUSE), (LABEL, CHILD)], x, y)

    reversed_edges = orient_label_edges(
        sem, x, y, None, StructureConfig(), threshold=0.5, generator=torch.Generator().manual_seed(0)
    )

    assert [child for child, _ in reversed_edges] == [CAUSE]
    assert reversed_edges[0][1] > 0.01  # nats per sample
    lattice = sem.hard_mask()
    assert lattice[CAUSE, LABEL] == 1 and lattice[LABEL, CAUSE] == 0
    assert lattice[LABEL, CHILD] == 1 and lattice[CHILD, LABEL] == 0  # the true child stays a child


def test_a_right_graph_is_left_exactly_as_fitted() -> None:
    x, y = _chain_data()
    sem = _sem_on([(ROOT, CAUSE), (CAUSE, LABEL), (LABEL, CHILD)], x, y)
    before = {name: p.detach().clone() for name, p in sem.named_parameters()}

    reversed_edges = orient_label_edges(
        sem, x, y, None, StructureConfig(), threshold=0.5, generator=torch.Generator().manual_seed(0)
    )

    assert reversed_edges == []
    for name, p in sem.named_parameters():
        assert torch.equal(p, before[name]), name


def test_the_check_is_off_at_zero_steps_and_without_a_label() -> None:
    x, y = _chain_data(200)
    sem = _sem_on([(ROOT, CAUSE), (LABEL, CAUSE)], x, y)
    off = StructureConfig(orientation_steps=0)
    assert orient_label_edges(sem, x, y, None, off, 0.5, torch.Generator().manual_seed(0)) == []
    assert sem.hard_mask()[LABEL, CAUSE] == 1

    unlabeled = StructuralEquationModel(n_features=3)
    assert orient_label_edges(unlabeled, x, y, None, StructureConfig(), 0.5, torch.Generator()) == []
