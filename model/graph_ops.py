"""Graph operations on boolean adjacency tensors, on the lattice's device: reachability, hop distances,
acyclicity. Matrix products, never a Python loop over nodes, so they run at omics width on a GPU."""

from __future__ import annotations

import torch


def transitive_closure(linked: torch.Tensor) -> torch.Tensor:
    """reach[i, j] = there is a directed path of length >= 1 from i to j; by repeated squaring (log2 N
    products)."""
    reach = linked.clone()
    while True:
        step = reach | ((reach.float() @ reach.float()) > 0)
        if torch.equal(step, reach):
            return reach
        reach = step


def is_acyclic(linked: torch.Tensor) -> bool:
    return not bool(transitive_closure(linked).diagonal().any())


def hop_distances(linked: torch.Tensor) -> torch.Tensor:
    """Shortest-path hop counts (F, F) on the symmetrised graph by breadth-first frontiers; unreachable
    pairs get F. One matrix product per hop, so the cost grows with the diameter, not with F."""
    n = linked.shape[0]
    symmetric = (linked | linked.T).float()
    distance = torch.full((n, n), float(n), device=linked.device)
    reached = torch.eye(n, dtype=torch.bool, device=linked.device)
    distance[reached] = 0.0
    hop = 0
    while True:
        hop += 1
        frontier = ((reached.float() @ symmetric) > 0) & ~reached
        if not frontier.any():
            return distance
        distance[frontier] = float(hop)
        reached |= frontier


def cycle_breaking_edges(weights: torch.Tensor, linked: torch.Tensor) -> torch.Tensor:
    """Edges to drop so that `linked` becomes acyclic: inside every strongly connected component, rank the
    nodes by net outgoing weight (out minus in, the greedy feedback-arc-set order) and drop the edges that point
    back in that ranking. Every cycle lies inside one component, so what is left is a DAG; edges outside cycles
    are kept. O(N^3 log N) in matrix products."""
    reach = transitive_closure(linked)
    same_component = reach & reach.T
    held = weights * linked
    score = held.sum(dim=1) - held.sum(dim=0)
    order = torch.argsort(score, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order), device=order.device)
    return linked & same_component & (rank[:, None] > rank[None, :])
