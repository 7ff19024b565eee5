"""Score decisions for undecided edges (model/structure/edge_decisions.py): a true parent left below the
threshold is added, a non-parent at the same probability is not, an edge that would close a cycle is never
tried, a grandparent kept before the parent between them is dropped again, and with the floor unset nothing
changes; an edge the fit left the wrong way round is reversed, one the right way round is not, a reversal
that would close a cycle is never tried, and with reversals off nothing changes."""

from __future__ import annotations

import math

import torch

from model.config import StructureConfig
from model.structure.edge_decisions import decide_undecided_edges, reverse_edges
from model.structure.equations import StructuralEquationModel
from model.structure.graph_ops import is_acyclic
from model.structure.label_edges import refit_mechanisms

ROOT, CHILD, NOISE, GRANDCHILD = 0, 1, 2, 3
UNDECIDED = 0.3  # an edge probability between the floor and the threshold


def _data(n: int = 2000) -> torch.Tensor:
    """root -> child -> grandchild, and an independent feature: the child is a nonlinear function of the root."""
    generator = torch.Generator().manual_seed(0)
    root = torch.randn(n, generator=generator)
    child = torch.sin(2.0 * root) + 0.3 * torch.randn(n, generator=generator)
    noise = torch.randn(n, generator=generator)
    grandchild = child + 0.5 * torch.randn(n, generator=generator)
    x = torch.stack([root, child, noise, grandchild], dim=1)
    return (x - x.mean(0)) / x.std(0)


def _sem(
    x: torch.Tensor, certain: list[tuple[int, int]], undecided: list[tuple[int, int]]
) -> StructuralEquationModel:
    """A model whose lattice holds `certain` edges and `undecided` ones at probability 0.3, mechanisms fitted on
    the hard graph (the certain edges)."""
    torch.manual_seed(0)
    sem = StructuralEquationModel(n_features=4)
    with torch.no_grad():
        sem.edge_logits.fill_(-10.0)
        for source, target in certain:
            sem.edge_logits[source, target] = 10.0
        for source, target in undecided:
            sem.edge_logits[source, target] = math.log(UNDECIDED / (1 - UNDECIDED)) * sem.temperature
    refit_mechanisms(sem, sem.hard_mask(), x, None, None, StructureConfig(orientation_steps=300), seed=1)
    return sem


def _decide(
    sem: StructuralEquationModel, x: torch.Tensor, floor: float | None = 0.05
) -> list[tuple[int, int, float]]:
    return decide_undecided_edges(sem, x, None, None, StructureConfig(undecided_floor=floor), 0.5, seed=0)


def test_a_true_parent_below_the_threshold_is_added_and_a_non_parent_is_not() -> None:
    x = _data()
    sem = _sem(x, certain=[(CHILD, GRANDCHILD)], undecided=[(ROOT, CHILD), (NOISE, ROOT)])
    score_before = float(
        refit_mechanisms(sem, sem.hard_mask(), x, None, None, StructureConfig(), seed=0).sum()
    )

    added = _decide(sem, x)

    assert [(parent, child) for parent, child, _ in added] == [(ROOT, CHILD)]
    assert added[0][2] > 0.1  # nats per sample: sin(2·root) explains most of the child's variance
    lattice = sem.hard_mask()
    assert lattice[ROOT, CHILD] == 1 and lattice[NOISE, ROOT] == 0 and lattice[CHILD, GRANDCHILD] == 1
    # The child's mechanism now uses its new parent: the hard graph scores better than before.
    score_after = float(refit_mechanisms(sem, lattice, x, None, None, StructureConfig(), seed=0).sum())
    assert score_after < score_before - 0.1


def test_a_grandparent_kept_before_the_parent_between_them_is_dropped() -> None:
    x = _data()
    # At equal probability the root is tried first and explains much of the grandchild through the child; once
    # the child is its parent too, the root adds nothing and the check drops it.
    sem = _sem(x, certain=[(ROOT, CHILD)], undecided=[(ROOT, GRANDCHILD), (CHILD, GRANDCHILD)])

    added = _decide(sem, x)

    assert [(parent, child) for parent, child, _ in added] == [(CHILD, GRANDCHILD)]
    lattice = sem.hard_mask()
    assert lattice[CHILD, GRANDCHILD] == 1 and lattice[ROOT, GRANDCHILD] == 0


def test_an_edge_that_would_close_a_cycle_is_not_tried() -> None:
    x = _data()
    # grandchild -> root would close root -> child -> grandchild -> root; its probability is the only undecided.
    sem = _sem(x, certain=[(ROOT, CHILD), (CHILD, GRANDCHILD)], undecided=[(GRANDCHILD, ROOT)])

    assert _decide(sem, x) == []
    assert is_acyclic(sem.hard_mask() > 0)


def test_nothing_changes_with_the_floor_unset_or_nothing_undecided() -> None:
    x = _data()
    sem = _sem(x, certain=[(CHILD, GRANDCHILD)], undecided=[(ROOT, CHILD)])
    state = {name: value.clone() for name, value in sem.state_dict().items()}

    assert _decide(sem, x, floor=None) == []
    assert _decide(sem, x, floor=0.4) == []  # 0.3 is below this floor: not undecided

    assert all(torch.equal(value, sem.state_dict()[name]) for name, value in state.items())


def _reverse(sem: StructuralEquationModel, x: torch.Tensor, on: bool = True) -> list[tuple[int, int, float]]:
    return reverse_edges(sem, x, None, None, StructureConfig(edge_reversals=on), 0.5, seed=0)


def test_an_edge_left_the_wrong_way_round_is_reversed_and_one_the_right_way_is_not() -> None:
    x = _data()
    # child = sin(2·root) + noise: the root explains the child well, the child cannot give the root back (sin is
    # not one-to-one), so the two nodes score much better root -> child.
    wrong = _sem(x, certain=[(CHILD, ROOT)], undecided=[])

    reversed_edges = _reverse(wrong, x)

    assert [(source, target) for source, target, _ in reversed_edges] == [(CHILD, ROOT)]
    assert reversed_edges[0][2] > 0.1
    lattice = wrong.hard_mask()
    assert lattice[ROOT, CHILD] == 1 and lattice[CHILD, ROOT] == 0

    right = _sem(x, certain=[(ROOT, CHILD)], undecided=[])
    assert _reverse(right, x) == []
    assert right.hard_mask()[ROOT, CHILD] == 1


def test_a_reversal_that_would_close_a_cycle_is_not_tried() -> None:
    x = _data()
    # root -> grandchild turned around would close root -> child -> grandchild -> root.
    sem = _sem(x, certain=[(ROOT, CHILD), (CHILD, GRANDCHILD), (ROOT, GRANDCHILD)], undecided=[])

    reversed_edges = _reverse(sem, x)

    assert (ROOT, GRANDCHILD) not in [(source, target) for source, target, _ in reversed_edges]
    assert is_acyclic(sem.hard_mask() > 0)


def test_nothing_changes_with_reversals_off() -> None:
    x = _data()
    sem = _sem(x, certain=[(CHILD, ROOT)], undecided=[])
    state = {name: value.clone() for name, value in sem.state_dict().items()}

    assert _reverse(sem, x, on=False) == []

    assert all(torch.equal(value, sem.state_dict()[name]) for name, value in state.items())
