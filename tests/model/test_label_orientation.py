"""The score search over the label's edges (model/structure/label_edges.py): a cause of the label that the fit left
as its child is turned back, a child it left as a parent is turned into a child, a cause it left unconnected is
added, even when both errors come together; true children, non-causes and a right graph are left alone."""

from __future__ import annotations

import logging

import pytest
import torch

from model.config import StructureConfig
from model.structure.equations import StructuralEquationModel
from model.structure.label_edges import (
    LabelEdgeChanges,
    parent_score_test,
    refit_mechanisms,
    search_label_edges,
)

ROOT, CAUSE, CHILD, OTHER_CAUSE, LABEL = 0, 1, 2, 3, 4


def _data(n: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """root -> cause -> label <- other_cause, label -> child: two independent causes of the label (one with a
    parent of its own) and one child."""
    generator = torch.Generator().manual_seed(0)
    root = torch.randn(n, generator=generator)
    cause = 0.8 * root + 0.6 * torch.randn(n, generator=generator)
    other_cause = torch.randn(n, generator=generator)
    label = (torch.rand(n, generator=generator) < torch.sigmoid(3.0 * cause + 2.0 * other_cause)).long()
    child = 1.2 * (2.0 * label - 1.0) + torch.randn(n, generator=generator)
    x = torch.stack([root, cause, child, other_cause], dim=1)
    return (x - x.mean(0)) / x.std(0), label


def _sem_on(edges: list[tuple[int, int]], x: torch.Tensor, y: torch.Tensor) -> StructuralEquationModel:
    """A structural-equation model whose lattice is exactly `edges`, mechanisms fitted on that graph."""
    torch.manual_seed(0)
    sem = StructuralEquationModel(n_features=4, n_classes=2)
    with torch.no_grad():
        sem.edge_logits.fill_(-10.0)
        for source, target in edges:
            sem.edge_logits[source, target] = 10.0
    refit_mechanisms(sem, sem.hard_mask(), x, y, None, StructureConfig(orientation_steps=300), seed=1)
    return sem


def _search(
    sem: StructuralEquationModel, x: torch.Tensor, y: torch.Tensor, config: StructureConfig | None = None
) -> LabelEdgeChanges:
    config = config or StructureConfig()
    return search_label_edges(
        sem, x, y, None, config, threshold=0.5, generator=torch.Generator().manual_seed(0)
    )


def test_a_cause_left_as_the_labels_child_is_turned_into_its_parent(caplog: pytest.LogCaptureFixture) -> None:
    x, y = _data()
    # The fit's mistake: label -> cause, which makes `cause` a collider of root and label.
    sem = _sem_on([(ROOT, CAUSE), (LABEL, CAUSE), (OTHER_CAUSE, LABEL), (LABEL, CHILD)], x, y)

    with caplog.at_level(logging.INFO, logger="model.structure.label_edges"):
        changes = _search(sem, x, y)

    # One progress line a step: the first names the reversal it makes, the second's best move loses, so it stops.
    steps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("label-edge search step")]
    assert len(steps) == 2
    assert steps[0].startswith("label-edge search step 1:") and f"[('reversed', {CAUSE})] (+" in steps[0]
    assert steps[1].startswith("label-edge search step 2:") and "(-" in steps[1]

    assert [child for child, _ in changes.reversed] == [CAUSE] and changes.added == []
    assert changes.reversed[0][1] > 0.01  # nats per sample
    lattice = sem.hard_mask()
    assert lattice[CAUSE, LABEL] == 1 and lattice[LABEL, CAUSE] == 0
    assert lattice[LABEL, CHILD] == 1 and lattice[CHILD, LABEL] == 0  # the true child stays a child


def test_a_child_left_as_the_labels_parent_is_turned_into_its_child() -> None:
    x, y = _data()
    # The fit's mistake: child -> label, which lets the prediction read the child (a leak).
    sem = _sem_on([(ROOT, CAUSE), (CAUSE, LABEL), (OTHER_CAUSE, LABEL), (CHILD, LABEL)], x, y)

    changes = _search(sem, x, y)

    assert changes == ([], [], [(CHILD, changes.made_children[0][1])])
    assert changes.made_children[0][1] > 0.01  # nats per sample
    lattice = sem.hard_mask()
    assert lattice[LABEL, CHILD] == 1 and lattice[CHILD, LABEL] == 0
    assert lattice[CAUSE, LABEL] == 1 and lattice[OTHER_CAUSE, LABEL] == 1  # the true causes stay parents


@pytest.mark.parametrize(
    "fitted",
    [
        # No parent for the label, and one cause as its child: turning that cause back alone leaves the label
        # one cause short; the search must add the missing one too.
        [(ROOT, CAUSE), (LABEL, CAUSE), (LABEL, CHILD)],
        # The missing cause hangs below the reversed one, so it is unreadable until that reversal is made.
        [(ROOT, CAUSE), (LABEL, CAUSE), (CAUSE, OTHER_CAUSE), (LABEL, CHILD)],
    ],
    ids=["label-as-root", "cause-below-a-reversed-cause"],
)
def test_a_label_fitted_without_its_causes_gets_them_back(fitted: list[tuple[int, int]]) -> None:
    x, y = _data()
    sem = _sem_on(fitted, x, y)

    changes = _search(sem, x, y)

    assert [child for child, _ in changes.reversed] == [CAUSE]
    assert [parent for parent, _ in changes.added] == [OTHER_CAUSE]
    lattice = sem.hard_mask()
    assert lattice[CAUSE, LABEL] == 1 and lattice[OTHER_CAUSE, LABEL] == 1
    assert lattice[ROOT, LABEL] == 0  # a cause of a cause is not a parent: its gain is below the edge penalty
    assert lattice[LABEL, CHILD] == 1


def test_the_score_test_ranks_a_missing_cause_above_a_non_cause() -> None:
    x, y = _data()
    sem = _sem_on([(ROOT, CAUSE), (CAUSE, LABEL), (LABEL, CHILD)], x, y)
    statistic = parent_score_test(sem, sem.hard_mask(), x, y, None)
    assert statistic.shape == (4,)
    assert statistic[OTHER_CAUSE] > 5 * statistic[ROOT]


def test_a_right_graph_is_left_exactly_as_fitted() -> None:
    x, y = _data()
    sem = _sem_on([(ROOT, CAUSE), (CAUSE, LABEL), (OTHER_CAUSE, LABEL), (LABEL, CHILD)], x, y)
    before = {name: p.detach().clone() for name, p in sem.named_parameters()}

    changes = _search(sem, x, y)

    assert changes == ([], [], [])
    for name, p in sem.named_parameters():
        assert torch.equal(p, before[name]), name


def test_the_search_is_off_at_zero_steps_and_without_a_label() -> None:
    x, y = _data(200)
    sem = _sem_on([(ROOT, CAUSE), (LABEL, CAUSE)], x, y)
    assert _search(sem, x, y, StructureConfig(orientation_steps=0)) == ([], [], [])
    assert sem.hard_mask()[LABEL, CAUSE] == 1

    unlabeled = StructuralEquationModel(n_features=4)
    assert _search(unlabeled, x, y) == ([], [], [])


def test_refitting_some_nodes_gives_them_what_refitting_every_node_gives() -> None:
    x, y = _data(600)
    groups = torch.arange(600) % 2  # two cohorts: the per-cohort mechanism changes are refitted too
    sem = StructuralEquationModel(n_features=4, n_classes=2, n_groups=2)
    with torch.no_grad():
        sem.edge_logits.fill_(-10.0)
        sem.edge_logits[ROOT, CAUSE] = sem.edge_logits[CAUSE, LABEL] = sem.edge_logits[LABEL, CHILD] = 10.0
    mask = sem.hard_mask().detach()
    # A reversal: it changes the child's parents and the label's.
    mask[LABEL, CHILD], mask[CHILD, LABEL] = 0.0, 1.0
    config = StructureConfig(orientation_steps=50)
    nodes = sem.node_mechanisms(torch.tensor([CHILD]), label=True)
    some = refit_mechanisms(sem, mask, x, y, groups, config, seed=3, nodes=nodes)
    every = refit_mechanisms(sem, mask, x, y, groups, config, seed=3)  # the model itself, every node
    torch.testing.assert_close(some, every[[CHILD, LABEL]])
    refitted = {name: p.detach().clone() for name, p in sem.named_parameters()}
    sem.load_node_mechanisms(nodes)
    for name, p in sem.named_parameters():
        torch.testing.assert_close(p, refitted[name], msg=name)
