"""Score decisions for the edges the continuous fit leaves undecided (docs/science.md, "Undecided edges").

At width the fit keeps a share of the true edges at probabilities between the floor and the threshold, round
after round (at F = 200 the edge count moved from 690 to 695 between rounds 40 and 160), although the hard
graph's score would take them. Each feature whose parents include such edges gets them tried one at a time,
most probable first, by refitting its mechanism on the hard graph with and without the edge
(`refit_mechanisms`), and keeps an edge that lowers its penalised score, as the label-edge search does for the
label's edges; each kept edge is then checked again against the parents its child ended with. Then every
feature -> feature edge of the hard graph gets its other direction tried (`reverse_edges`): the fit orients
some edges the wrong way round and leaves them there. The refits of many features run together, since each
node's score depends on its own parents alone.
"""

from __future__ import annotations

import logging

import torch

from model.config import StructureConfig
from model.structure.equations import StructuralEquationModel
from model.structure.graph_ops import descendants
from model.structure.label_edges import refit_mechanisms

__all__ = ["decide_undecided_edges", "reverse_edges"]

logger = logging.getLogger(__name__)


def _undecided_parents(
    sem: StructuralEquationModel, floor: float, threshold: float, tries: int
) -> dict[int, list[int]]:
    """Each feature's first `tries` parents with probability in [floor, threshold), most probable first."""
    n = sem.n_features
    probability = sem.adjacency().detach()[:n, :n].cpu()
    undecided = (probability >= floor) & (probability < threshold)
    parents: dict[int, list[int]] = {}
    for child in torch.nonzero(undecided.any(dim=0)).flatten().tolist():
        column = probability[:, child]
        sources = torch.nonzero(undecided[:, child]).flatten()
        order = column[sources].argsort(descending=True, stable=True)
        parents[child] = sources[order][:tries].tolist()
    return parents


def _drop_redundant_edges(
    sem: StructuralEquationModel,
    mask: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    config: StructureConfig,
    seed: int,
    children: torch.Tensor,
    current: torch.Tensor,
    added: list[tuple[int, int, float]],
) -> list[tuple[int, int, float]]:
    """The added edges that still pay `sparsity` given their child's final parents; `mask` loses the rest.

    An edge kept early, before a better parent of the same child was tried, can owe its gain to that parent
    (a grandparent standing in for the parent between them). In check k each child's k-th added edge is
    removed, the children are refitted together without it, and the edge is dropped when the child's score
    rises by at most `sparsity`. The gains returned are those of this check: the edge's worth given the final
    parents.
    """
    position_of = {int(child): position for position, child in enumerate(children.tolist())}
    by_child: dict[int, list[int]] = {}
    for parent, child, _ in added:
        by_child.setdefault(child, []).append(parent)
    final_gain = {(parent, child): gain for parent, child, gain in added}
    checks = max((len(parents) for parents in by_child.values()), default=0)
    for check in range(checks):
        trial = mask.clone()
        removed = [
            (position_of[child], parents[check])
            for child, parents in by_child.items()
            if check < len(parents)
        ]
        for position, parent in removed:
            trial[parent, int(children[position])] = 0.0
        positions = torch.tensor([position for position, _ in removed], device=x.device)
        nodes = sem.node_mechanisms(children[positions], label=False)
        scores = refit_mechanisms(sem, trial, x, y, groups, config, seed, nodes)
        gains = (scores - current[positions] - config.sparsity).tolist()
        dropped = 0
        for (position, parent), score, gain in zip(removed, scores, gains, strict=True):
            child = int(children[position])
            final_gain[(parent, child)] = gain
            if gain <= 0.0:
                mask[parent, child] = 0.0
                current[position] = score
                dropped += 1
        logger.info(
            "undecided edges, check %d of %d: %d edges checked, %d dropped",
            check + 1,
            checks,
            len(removed),
            dropped,
        )
    return [
        (parent, child, final_gain[(parent, child)])
        for parent, child, _ in added
        if final_gain[(parent, child)] > 0.0
    ]


def _adopt_edges(
    sem: StructuralEquationModel,
    mask: torch.Tensor,
    made: list[tuple[int, int]],
    removed: list[tuple[int, int]],
    x: torch.Tensor,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    config: StructureConfig,
    seed: int,
) -> None:
    """Make the `made` edges certain and the `removed` ones impossible, and refit their targets' mechanisms.

    The targets' mechanisms are refitted on the final hard graph `mask` and loaded into `sem`.
    """
    targets = sorted({target for _, target in made + removed})
    nodes = sem.node_mechanisms(torch.tensor(targets, dtype=torch.long, device=x.device), label=False)
    refit_mechanisms(sem, mask, x, y, groups, config, seed, nodes)
    sem.load_node_mechanisms(nodes)
    with torch.no_grad():
        for source, target in made:
            sem.edge_logits[source, target] = 10.0 * sem.temperature
        for source, target in removed:
            sem.edge_logits[source, target] = -10.0 * sem.temperature


def decide_undecided_edges(
    sem: StructuralEquationModel,
    x: torch.Tensor,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    config: StructureConfig,
    threshold: float,
    seed: int,
) -> list[tuple[int, int, float]]:
    """Add the undecided feature -> feature edges whose refitted score gain exceeds `sparsity`, keeping a DAG.

    An edge is undecided when its probability is at least `config.undecided_floor` and below `threshold`. In
    try k (at most `config.undecided_tries`), each feature with a k-th undecided parent gets that edge added
    to the current hard graph unless it would close a cycle; the features are refitted together on that graph,
    and a feature keeps its edge when its score falls by more than `sparsity` (nats per sample) against its
    score on its current parents. Then each kept edge is checked against the parents its child ended with, and
    dropped when it no longer pays `sparsity` (`_drop_redundant_edges`). Kept edges' logits are set to
    certain, and the features that gained parents get their mechanisms refitted on the final graph.

    Args:
        sem (StructuralEquationModel): the fitted model, with an acyclic hard graph; changed in place.
        x (torch.Tensor): standardised training features, shape (n, F).
        y (torch.Tensor | None): class indices, shape (n,); None without a label column.
        groups (torch.Tensor | None): cohort codes, shape (n,).
        config (StructureConfig): `undecided_floor` (None turns this off), `undecided_tries`, the refits'
            steps and the penalties.
        threshold (float): the lattice's edge threshold.
        seed (int): the seed of every refit's row draws (the same rows for every refit).

    Returns:
        list[tuple[int, int, float]]: the added edges as (parent, child, score gain given the final parents),
        in the order kept.
    """
    if config.undecided_floor is None or config.orientation_steps == 0:
        return []
    candidates = _undecided_parents(sem, config.undecided_floor, threshold, config.undecided_tries)
    if not candidates:
        return []
    mask = sem.hard_mask(threshold).detach()
    children = torch.tensor(sorted(candidates), dtype=torch.long, device=x.device)
    current = refit_mechanisms(
        sem, mask, x, y, groups, config, seed, sem.node_mechanisms(children, label=False)
    )
    added: list[tuple[int, int, float]] = []
    for attempt in range(config.undecided_tries):
        trial = mask.clone()
        tried: list[tuple[int, int]] = []  # (position in `children`, parent)
        for position, child in enumerate(children.tolist()):
            if attempt < len(candidates[child]):
                parent = candidates[child][attempt]
                if not bool(descendants(trial > 0, child)[parent]):  # the edge would close no cycle
                    trial[parent, child] = 1.0
                    tried.append((position, parent))
        if not tried:
            break
        positions = torch.tensor([position for position, _ in tried], device=x.device)
        nodes = sem.node_mechanisms(children[positions], label=False)
        scores = refit_mechanisms(sem, trial, x, y, groups, config, seed, nodes)
        gains = (current[positions] - scores - config.sparsity).tolist()
        kept = 0
        for (position, parent), score, gain in zip(tried, scores, gains, strict=True):
            if gain > 0.0:
                child = int(children[position])
                mask[parent, child] = 1.0
                current[position] = score
                added.append((parent, child, gain))
                kept += 1
        logger.info(
            "undecided edges, try %d of %d: %d edges tried, %d kept",
            attempt + 1,
            config.undecided_tries,
            len(tried),
            kept,
        )
    added = _drop_redundant_edges(sem, mask, x, y, groups, config, seed, children, current, added)
    if added:
        _adopt_edges(
            sem, mask, [(parent, child) for parent, child, _ in added], [], x, y, groups, config, seed
        )
    return added


def _disjoint_batches(edges: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """`edges` in order, each in the first batch that holds neither of its nodes (each node refits once)."""
    batches: list[list[tuple[int, int]]] = []
    nodes_of: list[set[int]] = []
    for parent, child in edges:
        index = next(
            (k for k, nodes in enumerate(nodes_of) if parent not in nodes and child not in nodes),
            len(batches),
        )
        if index == len(batches):
            batches.append([])
            nodes_of.append(set())
        batches[index].append((parent, child))
        nodes_of[index].update((parent, child))
    return batches


def reverse_edges(
    sem: StructuralEquationModel,
    x: torch.Tensor,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    config: StructureConfig,
    threshold: float,
    seed: int,
) -> list[tuple[int, int, float]]:
    """Turn around the feature -> feature edges whose reversal lowers their two nodes' score, keeping a DAG.

    Each edge i -> j of the hard graph, least probable first, is tried as j -> i unless another path leads from
    i to j (the reversal would close a cycle). Edges that share no node are tried together: both nodes of each
    are refitted on the reversed graph, and a reversal pays when the sum of their two scores falls by more than
    `sparsity` (nats per sample) against both refitted on the graph as it was. The edge count does not change,
    so the margin guards against the refits' noise rather than paying for an edge. The paying reversals are
    then made, largest gain first, each unless it would now close a cycle; the edges' logits are set to
    certain the new way round and the changed nodes' mechanisms are refitted on the final graph.

    Args:
        sem (StructuralEquationModel): the fitted model, with an acyclic hard graph; changed in place.
        x (torch.Tensor): standardised training features, shape (n, F).
        y (torch.Tensor | None): class indices, shape (n,); None without a label column.
        groups (torch.Tensor | None): cohort codes, shape (n,).
        config (StructureConfig): `edge_reversals` (False turns this off), the refits' steps and the penalties.
        threshold (float): the lattice's edge threshold.
        seed (int): the seed of every refit's row draws (the same rows for every refit).

    Returns:
        list[tuple[int, int, float]]: the reversed edges as (source, target, score gain) of the edge as it was
        (now target -> source), in the order made.
    """
    if not config.edge_reversals or config.orientation_steps == 0:
        return []
    n = sem.n_features
    mask = sem.hard_mask(threshold).detach()
    probability = sem.adjacency().detach()[:n, :n].cpu()
    edges = [(int(source), int(target)) for source, target in torch.nonzero(mask[:n, :n].cpu() > 0)]
    if not edges:
        return []
    edges.sort(key=lambda edge: float(probability[edge]))
    features = torch.arange(n, device=x.device)
    current = refit_mechanisms(
        sem, mask, x, y, groups, config, seed, sem.node_mechanisms(features, label=False)
    )
    paying: list[tuple[int, int, float]] = []
    for batch in _disjoint_batches(edges):
        trial = mask.clone()
        tried: list[tuple[int, int]] = []
        for source, target in batch:
            trial[source, target] = 0.0
            if bool(descendants(trial > 0, source)[target]):  # another path: target -> source closes a cycle
                trial[source, target] = 1.0
                continue
            trial[target, source] = 1.0
            tried.append((source, target))
        if not tried:
            continue
        touched = torch.tensor(sorted({node for edge in tried for node in edge}), device=x.device)
        scores = refit_mechanisms(
            sem, trial, x, y, groups, config, seed, sem.node_mechanisms(touched, label=False)
        ).cpu()
        position = {int(node): index for index, node in enumerate(touched.tolist())}
        for source, target in tried:
            before = float(current[source] + current[target])
            after = float(scores[position[source]] + scores[position[target]])
            if before - after > config.sparsity:
                paying.append((source, target, before - after - config.sparsity))
    reversed_edges: list[tuple[int, int, float]] = []
    for source, target, gain in sorted(paying, key=lambda edge: -edge[2]):
        mask[source, target] = 0.0
        if bool(descendants(mask > 0, source)[target]):  # an earlier reversal made a path: keep this edge
            mask[source, target] = 1.0
            continue
        mask[target, source] = 1.0
        reversed_edges.append((source, target, gain))
    logger.info(
        "edge reversals: %d edges tried, %d paid, %d made", len(edges), len(paying), len(reversed_edges)
    )
    if reversed_edges:
        made = [(target, source) for source, target, _ in reversed_edges]
        removed = [(source, target) for source, target, _ in reversed_edges]
        _adopt_edges(sem, mask, made, removed, x, y, groups, config, seed)
    return reversed_edges
