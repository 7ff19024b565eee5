"""A score search over the label's edges after the structure fit (docs/design.md §2.2, §2.9).

The continuous fit decides each edge by a gradient race from a sparse start, and around the label the race can
end wrong: a true cause left as the label's child, or left unconnected. Refitting the mechanisms on the hard
graph separates the alternatives clearly, so a greedy search over the label's edges does (`search_label_edges`).
The failure modes, as measured on dev SCMs, and what the search fixes: docs/science.md, "Design in one page" ("A
score search revises the label's edges") and "What did not work, and why".
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch.nn import functional

from model.config import StructureConfig
from model.structure.equations import N_BASIS, NodeMechanisms, StructuralEquationModel, additive_basis
from model.structure.graph_ops import descendants, is_acyclic

__all__ = [
    "MAX_ADDITIONS",
    "MAX_CANDIDATES",
    "LabelEdgeChanges",
    "node_scores",
    "parent_score_test",
    "readable_mask",
    "refit_mechanisms",
    "search_label_edges",
]

logger = logging.getLogger(__name__)

# Moves tried per search step, so that the search's cost does not grow with the label's degree or the width:
# children and parents to reverse, the least certain first (lowest edge probability), each at most
# MAX_CANDIDATES, and parents to add, the score test's best.
MAX_CANDIDATES = 16
MAX_ADDITIONS = 4
# Rows per evaluation chunk: the full-data score needs (rows, F·|φ|) basis values at a time, not (n, F·|φ|).
_SCORE_CHUNK = 1024


def _row_chunks(
    x: torch.Tensor, y: torch.Tensor | None, groups: torch.Tensor | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]]:
    for start in range(0, x.shape[0], _SCORE_CHUNK):
        rows = slice(start, start + _SCORE_CHUNK)
        yield x[rows], None if y is None else y[rows], None if groups is None else groups[rows]


def node_scores(
    sem: StructuralEquationModel,
    mask: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    config: StructureConfig,
    nodes: NodeMechanisms | None = None,
) -> torch.Tensor:
    """Each node's mean per-sample NLL on all rows under the 0/1 `mask`, plus `shift_sparsity` times its shifts.

    The penalised score of a graph is the sum of these plus `sparsity` per edge. Evaluated in chunks of rows,
    without gradients.

    Args:
        sem (StructuralEquationModel): the model, with the mechanisms to score.
        mask (torch.Tensor): the 0/1 graph, shape (N, N).
        x (torch.Tensor): standardised features, shape (n, F).
        y (torch.Tensor | None): class indices, shape (n,); None without a label node.
        groups (torch.Tensor | None): cohort codes, shape (n,).
        config (StructureConfig): the fit's `shift_sparsity`.
        nodes (NodeMechanisms | None): score only these nodes, with their mechanisms; None: every node.

    Returns:
        torch.Tensor: nats per sample per node, shape (N,) (or `nodes`' count, features first); lower is better.
    """
    with torch.no_grad():
        total = None
        for x_rows, y_rows, group_rows in _row_chunks(x, y, groups):
            part = sem.score(x_rows, y_rows, group_rows, mask, nodes)
            weighted = part.node_nll * x_rows.shape[0]
            total = weighted if total is None else total + weighted
        assert total is not None  # a training split has rows
        return total / x.shape[0] + config.shift_sparsity * part.node_shift


def refit_mechanisms(
    sem: StructuralEquationModel,
    mask: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    config: StructureConfig,
    seed: int,
    nodes: NodeMechanisms | None = None,
) -> torch.Tensor:
    """Refit the mechanisms (not the lattice) on the fixed 0/1 `mask`, and score them node by node.

    Adam for `config.orientation_steps` steps, rows drawn from a generator seeded with `seed`: every refit with
    the same seed draws the same rows (common random numbers). Adam updates each parameter on its own gradient
    and each node's NLL depends on its own mechanism only, so a node's refit depends on its own parents alone:
    refitting only the nodes whose parents a move changes (`nodes`) gives them what a refit of every node would,
    at a cost that does not grow with the other nodes.

    Args:
        sem (StructuralEquationModel): the model; without `nodes` its mechanisms are changed in place.
        mask (torch.Tensor): the 0/1 graph, shape (N, N).
        x (torch.Tensor): standardised features, shape (n, F).
        y (torch.Tensor | None): class indices, shape (n,); None without a label node.
        groups (torch.Tensor | None): cohort codes, shape (n,).
        config (StructureConfig): steps, learning rate, batch size and penalties.
        seed (int): the seed of the row draws.
        nodes (NodeMechanisms | None): refit only these mechanisms (in place in `nodes`); None: every node.

    Returns:
        torch.Tensor: `node_scores` on all rows after the refit, of every node or of `nodes`.
    """
    generator = torch.Generator().manual_seed(seed)
    parameters = sem.mechanism_parameters().values() if nodes is None else nodes.parameters.values()
    optimizer = torch.optim.Adam(list(parameters), lr=config.lr)
    batch = min(config.batch_size, x.shape[0])
    for _ in range(config.orientation_steps):
        index = torch.randint(x.shape[0], (batch,), generator=generator).to(x.device)
        score = sem.score(
            x[index], None if y is None else y[index], None if groups is None else groups[index], mask, nodes
        )
        loss = score.nll + config.shift_sparsity * score.mechanism_shift
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return node_scores(sem, mask, x, y, groups, config, nodes)


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
        made_children (list[tuple[int, float]]): feature -> label edges turned into label -> feature (a child of
            the label the fit left as its parent, which the prediction could read).
    """

    reversed: list[tuple[int, float]]
    added: list[tuple[int, float]]
    made_children: list[tuple[int, float]]


class _Move(NamedTuple):
    """A graph of the search: how much it lowers the current graph's penalised score, and what made it."""

    gain: float
    mask: torch.Tensor
    moves: list[tuple[str, int]]  # what made it from the step's starting graph
    label_mechanism: NodeMechanisms  # the label's refit on `mask`


def parent_score_test(
    sem: StructuralEquationModel,
    mask: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    groups: torch.Tensor | None,
    label_mechanism: NodeMechanisms | None = None,
) -> torch.Tensor:
    """Score statistic of each feature as a new parent of the label under `mask`.

    It is the norm of the mean product of the feature's basis φ(x_j) and the label's residual (one-hot minus
    predicted probabilities): the gradient of the label's mean NLL with respect to that feature's first-layer
    weights, where they are 0.

    Args:
        sem (StructuralEquationModel): the model, with a label node.
        mask (torch.Tensor): the 0/1 graph, shape (N, N).
        x (torch.Tensor): standardised features, shape (n, F).
        y (torch.Tensor): class indices, shape (n,).
        groups (torch.Tensor | None): cohort codes, shape (n,).
        label_mechanism (NodeMechanisms | None): the label's mechanism to test under (only the label's logits
            are evaluated); None: the model's own.

    Returns:
        torch.Tensor: the statistic per feature, shape (F,); larger ranks higher.
    """
    if label_mechanism is None:
        label_mechanism = sem.node_mechanisms(torch.zeros(0, dtype=torch.long, device=x.device), label=True)
    total = x.new_zeros(x.shape[1], sem.n_classes, N_BASIS)
    with torch.no_grad():
        for x_rows, y_rows, group_rows in _row_chunks(x, y, groups):
            _, logits = sem.mechanisms(x_rows, y_rows, group_rows, mask, label_mechanism)
            assert (
                logits is not None and y_rows is not None
            )  # the caller checked that the model has a label node
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
    - Reverse a feature -> label edge (the least certain parents first, at most `MAX_CANDIDATES`): a child of
      the label that the fit left as its parent is read by the prediction, the leak the lattice exists to
      prevent, and the fit's gradient race can end that way although the score prefers the causal orientation
      (docs/science.md, "The label's parents are searched too").
    - Add a parent to the label from the features it may read (its non-descendants, so no cycle and no change
      to what the prediction reads), the `MAX_ADDITIONS` the score test ranks highest (`parent_score_test`: the
      correlation of each feature's basis with the label's residual under the current mechanism).

    Each move is scored by refitting, from the fitted state, the mechanisms of the nodes whose parents it changes
    (the label, and a reversed child or parent) on both graphs (`refit_mechanisms` with the same rows for every refit; the
    other nodes' refits would be the same on both and cancel): a move costs O(n·F) per refit step, not the
    O(n·F²) of a refit of every node. With no change the model is left exactly as fitted. With changes, the
    lattice logits of the changed edges are set to certain and the changed nodes' mechanisms are their refit on
    the final graph.

    Args:
        sem (StructuralEquationModel): the fitted model; changed in place when the search changes an edge.
        x (torch.Tensor): standardised training features, shape (n, F).
        y (torch.Tensor): class indices, shape (n,).
        groups (torch.Tensor | None): cohort codes, shape (n,).
        config (StructureConfig): `orientation_steps` (0 turns the search off) and the fit's penalties.
        threshold (float): the lattice's edge threshold.
        generator (torch.Generator): the fit's generator; its seed seeds the refits, and no draw is taken from it.

    Returns:
        LabelEdgeChanges: the reversals and additions made (all empty without a label node or a change).
    """
    changes = LabelEdgeChanges([], [], [])
    label = sem.label_node
    if label is None or config.orientation_steps == 0:
        return changes
    seed = generator.initial_seed()  # not a draw: with no change, the later draws stay as they were
    # Refitted node scores by (node, its parents): every refit starts from the fitted state with the same rows.
    refitted: dict[tuple[int, bytes], float] = {}

    def refit(mask: torch.Tensor, feature: int | None) -> tuple[float, NodeMechanisms]:
        """The label's (and `feature`'s) refitted score on `mask`, and the label's refitted mechanism.

        The model itself is never changed: the mechanisms are refitted as copies of the fitted ones.
        """
        features = torch.tensor([] if feature is None else [feature], dtype=torch.long, device=x.device)
        nodes = sem.node_mechanisms(features, label=True)
        scores = refit_mechanisms(sem, mask, x, y, groups, config, seed, nodes).tolist()
        for node, score in zip([*features.tolist(), label], scores, strict=True):
            refitted[node, mask[:, node].bool().cpu().numpy().tobytes()] = score
        return sum(scores), nodes

    def scored(mask: torch.Tensor, node: int) -> float:
        """`node`'s refitted score on `mask`, refitted now unless an earlier refit had the same parents."""
        key = (node, mask[:, node].bool().cpu().numpy().tobytes())
        if key not in refitted:
            refit(mask, None if node == label else node)
        return refitted[key]

    def consider(candidate: torch.Tensor, moves: list[tuple[str, int]], feature: int | None) -> _Move:
        """The move from `mask` to `candidate`, its changed nodes (the label and `feature`) refitted on both."""
        score, label_mechanism = refit(candidate, feature)
        before = scored(mask, label) + (0.0 if feature is None else scored(mask, feature))
        gain = before - score - config.sparsity * float(candidate.sum() - mask.sum())
        tried.append(f"{moves} {gain:+.4f}")
        return _Move(gain, candidate, moves, label_mechanism)

    def better(move: _Move, leader: _Move | None) -> _Move:
        """The step's new leader: `move` if it gains strictly more (so of equal gains the first tried wins)."""
        return move if leader is None or move.gain > leader.gain else leader

    def best_new_parents(
        mask: torch.Tensor, eligible: torch.Tensor, count: int, label_mechanism: NodeMechanisms | None
    ) -> list[int]:
        """The score test's `count` best features among `eligible` (F,) bool, under `label_mechanism`."""
        statistic = parent_score_test(sem, mask, x, y, groups, label_mechanism)
        statistic[~eligible] = -1.0
        order = statistic.argsort(descending=True, stable=True)[:count]
        return [f for f in order.tolist() if statistic[f] >= 0]

    adjacency = sem.adjacency().detach()
    probability, parent_probability = adjacency[label], adjacency[:label, label]
    fitted_mask = mask = sem.hard_mask(threshold).detach()
    current_label: NodeMechanisms | None = None  # the label's refit on `mask`; None: as fitted
    for step in itertools.count(1):
        tried: list[str] = []
        leader: _Move | None = None
        readable = readable_mask(mask, label)
        children = torch.nonzero(mask[label]).flatten()
        for child in children[probability[children].argsort(stable=True)][:MAX_CANDIDATES].tolist():
            candidate = mask.clone()
            candidate[label, child], candidate[child, label] = 0.0, 1.0
            if not is_acyclic(candidate > 0):
                continue
            reversal = consider(candidate, [("reversed", child)], child)
            leader = better(reversal, leader)
            # A cause fitted as the label's child can hide another cause below it, which alone scores worse as a
            # parent than the reversal gains: try the reversal together with the best parent it frees (ranked
            # under the reversal's refit of the label).
            freed = readable_mask(candidate, label) & ~readable  # never a parent: they were descendants
            freed[child] = False
            if freed.any():
                for feature in best_new_parents(candidate, freed, 1, reversal.label_mechanism):
                    pair = candidate.clone()
                    pair[feature, label] = 1.0
                    leader = better(consider(pair, [*reversal.moves, ("added", feature)], child), leader)
        parents = torch.nonzero(mask[:label, label]).flatten()
        for parent in parents[parent_probability[parents].argsort(stable=True)][:MAX_CANDIDATES].tolist():
            candidate = mask.clone()
            candidate[parent, label], candidate[label, parent] = 0.0, 1.0
            if is_acyclic(candidate > 0):
                leader = better(consider(candidate, [("made_children", parent)], parent), leader)
        # The additions are ranked under the current graph's refit of the label.
        if current_label is None:
            current_label = refit(mask, None)[1]
        for feature in best_new_parents(
            mask, readable & (mask[:label, label] == 0), MAX_ADDITIONS, current_label
        ):
            candidate = mask.clone()
            candidate[feature, label] = 1.0
            leader = better(consider(candidate, [("added", feature)], None), leader)
        logger.debug("label-edge search: %s", ", ".join(tried))
        # Each step refits up to 2·MAX_CANDIDATES + MAX_ADDITIONS moves, minutes at F = 4,000: say where it is.
        logger.info(
            "label-edge search step %d: %d moves tried, best %s",
            step,
            len(tried),
            "none" if leader is None else f"{leader.moves} ({leader.gain:+.4f} nats)",
        )
        if leader is None or leader.gain <= 0.0:
            break
        for kind, feature in leader.moves:
            getattr(changes, kind).append((feature, leader.gain))
        mask, current_label = leader.mask, leader.label_mechanism
    # The final graph against the fitted one: a feature may be reversed in one step and back in a later one.
    new_edges = (mask > 0) & ~(fitted_mask > 0)
    dropped_edges = (fitted_mask > 0) & ~(mask > 0)
    if bool(new_edges.any()):
        # Every changed edge touches the label: the label's parents and the features it became a parent of.
        reversed_features = torch.nonzero((mask[label] != fitted_mask[label])[:label]).flatten()
        nodes = sem.node_mechanisms(reversed_features.to(x.device), label=True)
        refit_mechanisms(sem, mask, x, y, groups, config, seed, nodes)
        sem.load_node_mechanisms(nodes)
        with torch.no_grad():
            sem.edge_logits[dropped_edges] = -10.0 * sem.temperature
            sem.edge_logits[new_edges] = 10.0 * sem.temperature
    return changes
