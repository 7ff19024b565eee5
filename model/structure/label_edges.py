"""A score search over the label's edges after the structure fit (docs/design.md §2.2, §2.9).

The continuous fit decides each edge by a gradient race from a sparse start, and around the label the race can
end wrong: a true cause left as the label's child, or left unconnected. Refitting the mechanisms on the hard
graph separates the alternatives clearly, so a greedy search over the label's edges does (`search_label_edges`).
The failure modes, as measured on dev SCMs, and what the search fixes: docs/science.md, "Design in one page" ("A
score search revises the label's edges") and "What did not work, and why".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch.nn import functional

from model.config import StructureConfig
from model.structure.equations import N_BASIS, StructuralEquationModel, additive_basis
from model.structure.graph_ops import descendants, is_acyclic

__all__ = [
    "MAX_ADDITIONS",
    "MAX_CANDIDATES",
    "LabelEdgeChanges",
    "parent_score_test",
    "penalised_score",
    "readable_mask",
    "refit_mechanisms",
    "search_label_edges",
]

logger = logging.getLogger(__name__)

# Moves tried per search step. A refit costs as much as `orientation_steps` structure steps, so the search's
# cost must not grow with the label's out-degree or the width: children to reverse, the least certain first
# (lowest edge probability), and parents to add, the score test's best.
MAX_CANDIDATES = 16
MAX_ADDITIONS = 4
# Rows per evaluation chunk: the full-data score needs (rows, F·|φ|) basis values at a time, not (n, F·|φ|).
_SCORE_CHUNK = 1024


def _row_chunks(
    x: torch.Tensor, y: torch.Tensor, groups: torch.Tensor | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    for start in range(0, x.shape[0], _SCORE_CHUNK):
        rows = slice(start, start + _SCORE_CHUNK)
        yield x[rows], y[rows], None if groups is None else groups[rows]


def penalised_score(
    sem: StructuralEquationModel,
    mask: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor | None,
    config: StructureConfig,
) -> float:
    """Mean per-sample NLL of every node on all rows under the 0/1 `mask`, plus the fit's hard-graph penalties.

    The penalties are `sparsity` per edge and `shift_sparsity` times the mechanism shifts. Evaluated in chunks
    of rows, without gradients.

    Args:
        sem (StructuralEquationModel): the model, with the mechanisms to score.
        mask (torch.Tensor): the 0/1 graph, shape (N, N).
        x (torch.Tensor): standardised features, shape (n, F).
        y (torch.Tensor): class indices, shape (n,).
        groups (torch.Tensor | None): cohort codes, shape (n,).
        config (StructureConfig): the fit's `sparsity` and `shift_sparsity`.

    Returns:
        float: the penalised score in nats per sample; lower is better.
    """
    total = x.new_zeros(())
    with torch.no_grad():
        for x_rows, y_rows, group_rows in _row_chunks(x, y, groups):
            part = sem.score(x_rows, y_rows, group_rows, mask)
            total += part.nll * x_rows.shape[0]
        penalty = config.sparsity * mask.sum() + config.shift_sparsity * part.mechanism_shift
        return float(total / x.shape[0] + penalty)


def refit_mechanisms(
    sem: StructuralEquationModel,
    mask: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor | None,
    config: StructureConfig,
    seed: int,
) -> float:
    """Refit the mechanisms (not the lattice) on the fixed 0/1 `mask`, and score the result.

    Adam for `config.orientation_steps` steps, rows drawn from a generator seeded with `seed`: every refit with
    the same seed draws the same rows (common random numbers), so nodes whose parents did not change follow the
    same trajectory and cancel out of a comparison.

    Args:
        sem (StructuralEquationModel): the model; its mechanisms are changed in place.
        mask (torch.Tensor): the 0/1 graph, shape (N, N).
        x (torch.Tensor): standardised features, shape (n, F).
        y (torch.Tensor): class indices, shape (n,).
        groups (torch.Tensor | None): cohort codes, shape (n,).
        config (StructureConfig): steps, learning rate, batch size and penalties.
        seed (int): the seed of the row draws.

    Returns:
        float: `penalised_score` on all rows after the refit.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(list(sem.mechanism_parameters().values()), lr=config.lr)
    batch = min(config.batch_size, x.shape[0])
    for _ in range(config.orientation_steps):
        index = torch.randint(x.shape[0], (batch,), generator=generator).to(x.device)
        score = sem.score(x[index], y[index], None if groups is None else groups[index], mask)
        loss = score.nll + config.shift_sparsity * score.mechanism_shift
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return penalised_score(sem, mask, x, y, groups, config)


def readable_mask(mask: torch.Tensor, label: int) -> torch.Tensor:
    """The features the prediction may read under the 0/1 lattice `mask`: the label's non-descendants.

    Args:
        mask (torch.Tensor): the 0/1 graph over features and the label, shape (N, N).
        label (int): the label's node index (F).

    Returns:
        torch.Tensor: bool, shape (F,).
    """
    return ~descendants(mask > 0, label)[:label]


class LabelEdgeChanges(NamedTuple):
    """What the search changed, each as (feature, score gain in nats per sample), in the order made.

    A reversal made together with the parent it frees carries the pair's gain in both lists.

    Attributes:
        reversed (list[tuple[int, float]]): label -> feature edges turned into feature -> label.
        added (list[tuple[int, float]]): feature -> label edges added.
    """

    reversed: list[tuple[int, float]]
    added: list[tuple[int, float]]


class _Refit(NamedTuple):
    """A graph of the search with its refitted penalised score, and the mechanisms' state once it leads a step."""

    score: float
    state: dict[str, torch.Tensor]
    mask: torch.Tensor
    moves: list[tuple[str, int]]  # what made it from the step's starting graph


def parent_score_test(
    sem: StructuralEquationModel,
    mask: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor | None,
) -> torch.Tensor:
    """Score statistic of each feature as a new parent of the label under `mask`.

    It is the norm of the mean product of the feature's basis φ(x_j) and the label's residual (one-hot minus
    predicted probabilities): the gradient of the label's mean NLL with respect to that feature's first-layer
    weights, where they are 0.

    Args:
        sem (StructuralEquationModel): the model, with a label node and the mechanisms as loaded.
        mask (torch.Tensor): the 0/1 graph, shape (N, N).
        x (torch.Tensor): standardised features, shape (n, F).
        y (torch.Tensor): class indices, shape (n,).
        groups (torch.Tensor | None): cohort codes, shape (n,).

    Returns:
        torch.Tensor: the statistic per feature, shape (F,); larger ranks higher.
    """
    total = x.new_zeros(x.shape[1], sem.n_classes, N_BASIS)
    with torch.no_grad():
        for x_rows, y_rows, group_rows in _row_chunks(x, y, groups):
            _, logits = sem.mechanisms(x_rows, y_rows, group_rows, mask)
            assert logits is not None  # the caller checked that the model has a label node
            residual = functional.one_hot(y_rows, sem.n_classes).to(x.dtype) - logits.softmax(dim=-1)
            total += torch.einsum("rc,rfk->fck", residual, additive_basis(x_rows))
    return (total / x.shape[0]).flatten(1).norm(dim=1)


def search_label_edges(
    sem: StructuralEquationModel,
    x: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor | None,
    config: StructureConfig,
    threshold: float,
    generator: torch.Generator,
) -> LabelEdgeChanges:
    """Greedy search over the label's edges of the thresholded lattice, while the refitted score improves.

    Each step tries every move below, keeps the best one that lowers the penalised score (NLL, plus `sparsity`
    per edge as in the fit, plus the mechanism-shift term), and repeats until none does.

    - Reverse a label -> child edge (the least certain children first, at most `MAX_CANDIDATES`); and, where
      the reversal makes features readable that were below that child, the reversal together with the best of
      them as a parent.
    - Add a parent to the label from the features it may read (its non-descendants, so no cycle and no change
      to what the prediction reads), the `MAX_ADDITIONS` the score test ranks highest (`parent_score_test`: the
      correlation of each feature's basis with the label's residual under the current mechanism).

    Each move is scored by refitting the mechanisms from the fitted state (`refit_mechanisms`, the same rows for
    every refit). With no change the model is left exactly as fitted. With changes, the lattice logits of the
    changed edges are set to certain and the mechanisms keep the refit of the final graph.

    Args:
        sem (StructuralEquationModel): the fitted model; changed in place when the search changes an edge.
        x (torch.Tensor): standardised training features, shape (n, F).
        y (torch.Tensor): class indices, shape (n,).
        groups (torch.Tensor | None): cohort codes, shape (n,).
        config (StructureConfig): `orientation_steps` (0 turns the search off) and the fit's penalties.
        threshold (float): the lattice's edge threshold.
        generator (torch.Generator): the fit's generator; its seed seeds the refits, and no draw is taken from it.

    Returns:
        LabelEdgeChanges: the reversals and additions made (both empty without a label node or a change).
    """
    changes = LabelEdgeChanges([], [])
    label = sem.label_node
    if label is None or config.orientation_steps == 0:
        return changes
    seed = generator.initial_seed()  # not a draw: with no change, the later draws stay as they were

    def snapshot() -> dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in sem.mechanism_parameters().items()}

    def load(state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, p in sem.mechanism_parameters().items():
                p.copy_(state[name])

    fitted = snapshot()

    def refit(mask: torch.Tensor, moves: list[tuple[str, int]]) -> _Refit:
        """Refits from the fitted state; the mechanisms are left in the refit.

        The state is kept only later, by `better`, for the step's leader: one state at omics width is
        (F·|φ| + C) × (F + 1) weights.
        """
        load(fitted)
        return _Refit(refit_mechanisms(sem, mask, x, y, groups, config, seed), {}, mask, moves)

    def better(refitted: _Refit, leader: _Refit) -> _Refit:
        """The new leader of a step: `refitted` (its state taken now) if it scores strictly lower.

        So of equal scores the first tried wins.
        """
        tried.append(f"{refitted.moves} {current.score - refitted.score:+.4f}")
        if refitted.score >= leader.score:
            return leader
        return refitted._replace(state=snapshot())

    def best_new_parents(mask: torch.Tensor, eligible: torch.Tensor, count: int) -> list[int]:
        """The score test's `count` best features among `eligible` (F,) bool, under the mechanisms as loaded."""
        statistic = parent_score_test(sem, mask, x, y, groups)
        statistic[~eligible] = -1.0
        order = statistic.argsort(descending=True, stable=True)[:count]
        return [f for f in order.tolist() if statistic[f] >= 0]

    probability = sem.adjacency().detach()[label]
    current = refit(sem.hard_mask(threshold).detach(), [])
    current = current._replace(state=snapshot())
    while True:
        tried: list[str] = []
        leader, mask = current, current.mask
        readable = readable_mask(mask, label)
        children = torch.nonzero(mask[label]).flatten()
        for child in children[probability[children].argsort(stable=True)][:MAX_CANDIDATES].tolist():
            candidate = mask.clone()
            candidate[label, child], candidate[child, label] = 0.0, 1.0
            if not is_acyclic(candidate > 0):
                continue
            reversal = refit(candidate, [("reversed", child)])
            leader = better(reversal, leader)
            # A cause fitted as the label's child can hide another cause below it, which alone scores worse as a
            # parent than the reversal gains: try the reversal together with the best parent it frees (ranked
            # under the reversal's refit, which the mechanisms still hold).
            freed = readable_mask(candidate, label) & ~readable  # never a parent: they were descendants
            freed[child] = False
            if freed.any():
                for feature in best_new_parents(candidate, freed, 1):
                    pair = candidate.clone()
                    pair[feature, label] = 1.0
                    leader = better(refit(pair, [*reversal.moves, ("added", feature)]), leader)
        load(current.state)  # the additions are ranked under the current graph's refit
        for feature in best_new_parents(mask, readable & (mask[:label, label] == 0), MAX_ADDITIONS):
            candidate = mask.clone()
            candidate[feature, label] = 1.0
            leader = better(refit(candidate, [("added", feature)]), leader)
        logger.debug("label-edge search from %.4f: %s", current.score, ", ".join(tried))
        if leader is current:
            break
        for kind, feature in leader.moves:
            getattr(changes, kind).append((feature, current.score - leader.score))
        current = leader
    load(current.state if changes.reversed or changes.added else fitted)
    with torch.no_grad():
        for child, _ in changes.reversed:
            sem.edge_logits[label, child] = -10.0 * sem.temperature
        for feature, _ in changes.reversed + changes.added:
            sem.edge_logits[feature, label] = 10.0 * sem.temperature
    return changes
