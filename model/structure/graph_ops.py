"""Graph operations on the lattice, so they run at omics width: never a Python loop over nodes.

Reachability and hop distances of boolean adjacency tensors as matrix products on the lattice's device; cycles
(acyclicity, cycle breaking, a node's descendants) from strongly connected components or a breadth-first search
over the edge list (SciPy's csgraph, O(N + E) on the host: the transitive closure costs O(N³ log N), minutes
per call at N = 20,000); and the sparse product that aggregates a batch of node states over a shared edge list.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

__all__ = [
    "aggregate_parents",
    "cycle_breaking_edges",
    "descendants",
    "hop_distances",
    "is_acyclic",
    "strong_components",
    "transitive_closure",
]

# torch flags every CSR tensor as beta once per process; the products used here are long-stable.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)


def transitive_closure(linked: torch.Tensor) -> torch.Tensor:
    """The transitive closure, by repeated squaring (log2 N products).

    Args:
        linked (torch.Tensor): bool adjacency, `linked[i, j]`: edge i -> j, shape (N, N).

    Returns:
        torch.Tensor: bool `reach`, `reach[i, j]`: a directed path of length >= 1 from i to j, shape (N, N).
    """
    reach = linked.clone()
    while True:
        step = reach | ((reach.float() @ reach.float()) > 0)
        if torch.equal(step, reach):
            return reach
        reach = step


def _edge_list(linked: torch.Tensor) -> csr_matrix:
    """The graph as a SciPy sparse matrix: only the E edges cross to the host, never the N×N tensor."""
    n = linked.shape[0]
    sources, targets = torch.nonzero(linked, as_tuple=True)
    ones = np.ones(len(sources), dtype=np.int8)
    return csr_matrix((ones, (sources.cpu().numpy(), targets.cpu().numpy())), shape=(n, n))


def strong_components(linked: torch.Tensor) -> torch.Tensor:
    """Each node's strongly connected component (Tarjan's algorithm in SciPy, O(N + E)).

    Args:
        linked (torch.Tensor): bool adjacency, `linked[i, j]`: edge i -> j, shape (N, N).

    Returns:
        torch.Tensor: int64 component labels on `linked`'s device, shape (N,); equal labels, same component.
    """
    _, labels = connected_components(_edge_list(linked), directed=True, connection="strong")
    return torch.from_numpy(labels.astype(np.int64)).to(linked.device)


def is_acyclic(linked: torch.Tensor) -> bool:
    """Whether the graph has no directed cycle: no self-loop and every strong component a single node.

    Args:
        linked (torch.Tensor): bool adjacency, shape (N, N).

    Returns:
        bool: True for a DAG.
    """
    if bool(linked.diagonal().any()):
        return False
    components = strong_components(linked)
    return int(components.max()) + 1 == linked.shape[0] if linked.shape[0] else True


def descendants(linked: torch.Tensor, node: int) -> torch.Tensor:
    """The nodes a directed path of length >= 1 leads to from `node` (breadth-first search, O(N + E)).

    Args:
        linked (torch.Tensor): bool adjacency, shape (N, N).
        node (int): the start node.

    Returns:
        torch.Tensor: bool, shape (N,), on `linked`'s device; True at `node` only when it lies on a cycle.
    """
    graph = _edge_list(linked)
    reached = np.zeros(linked.shape[0], dtype=bool)
    reached[breadth_first_order(graph, node, directed=True, return_predecessors=False)] = True
    # The search reaches `node` itself at length 0; a path of length >= 1 back to it runs through a parent.
    reached[node] = bool(reached[graph[:, node].nonzero()[0]].any())
    return torch.from_numpy(reached).to(linked.device)


def hop_distances(linked: torch.Tensor) -> torch.Tensor:
    """Shortest-path hop counts on the symmetrised graph, by breadth-first frontiers.

    One matrix product per hop, so the cost grows with the diameter, not with F.

    Args:
        linked (torch.Tensor): bool adjacency, shape (F, F).

    Returns:
        torch.Tensor: float hop counts, shape (F, F); 0 on the diagonal, F for unreachable pairs.
    """
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
    """Edges to drop so that `linked` becomes acyclic.

    Inside every strongly connected component, rank the nodes by net outgoing weight (out minus in, the greedy
    feedback-arc-set order) and drop the edges that point back in that ranking. Every cycle lies inside one
    component, so what is left is a DAG; edges outside cycles are kept. O(N + E) for the components, O(N²) for the rest.

    Args:
        weights (torch.Tensor): edge weights (probabilities), shape (N, N).
        linked (torch.Tensor): bool adjacency, shape (N, N).

    Returns:
        torch.Tensor: bool, the edges to drop, shape (N, N).
    """
    components = strong_components(linked)
    same_component = components[:, None] == components[None, :]
    held = weights * linked
    score = held.sum(dim=1) - held.sum(dim=0)
    order = torch.argsort(score, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order), device=order.device)
    return linked & same_component & (rank[:, None] > rank[None, :])


def _csr(
    rows: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """An n x n CSR matrix from COO entries in any order, and the order its stored values take from the entries.

    The entries are sorted here, on the device, with no host sync.
    """
    order = torch.argsort(rows * n + columns)
    row_starts = torch.searchsorted(rows[order], torch.arange(n + 1, device=rows.device))
    matrix = torch.sparse_csr_tensor(
        row_starts, columns[order], values[order], (n, n), check_invariants=False
    )
    return matrix, order


class _SharedSparseProduct(torch.autograd.Function):
    """out = A·X for the lattice's sparse A (A[j, i] = weight of edge i -> j) and a dense X (n, N).

    The backward multiplies by Aᵀ built from the same edges, rather than letting autograd transpose the CSR
    matrix (which waits on the device: a host sync in every step); the edge weights get their gradient, where
    they need one, as a sampled product at the edges' positions, never as an (E, N) gather.
    """

    @staticmethod
    def forward(flat: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        source, target = edge_index
        return torch.sparse.mm(_csr(target, source, edge_weight, flat.shape[0])[0], flat)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        flat, edge_index, edge_weight = inputs
        ctx.save_for_backward(flat if edge_weight.requires_grad else None, edge_index, edge_weight)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, torch.Tensor | None]:
        flat, edge_index, edge_weight = ctx.saved_tensors
        source, target = edge_index
        n = grad.shape[0]
        grad_flat = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_flat = torch.sparse.mm(_csr(source, target, edge_weight, n)[0], grad)
        if ctx.needs_input_grad[2]:
            pattern, order = _csr(target, source, torch.zeros_like(edge_weight), n)  # the forward's layout
            sampled = torch.sparse.sampled_addmm(pattern, grad, flat.T, beta=0.0).values()
            grad_weight = torch.empty_like(edge_weight).index_copy_(0, order, sampled)
        return grad_flat, None, grad_weight


def aggregate_parents(
    states: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor
) -> torch.Tensor:
    """out[b, j] = Σ_(i→j) w_ij · states[b, i] for every sample b, in float32.

    The edges are shared by the batch, so this is one sparse (F x F)·(F x B·d) product: memory O(B·F·d + E),
    never the (B, E, d) tensor of per-edge messages that edge-wise message passing gathers (8 GiB of float32 at
    F = 4,096, batch 256: docs/science.md, "Width on one GPU"). Duplicate edges add up.

    Args:
        states (torch.Tensor): node states, shape (B, F, d).
        edge_index (torch.Tensor): parent -> child edges (i, j), shape (2, E).
        edge_weight (torch.Tensor): edge weights w_ij, shape (E,).

    Returns:
        torch.Tensor: the weighted sums over each node's parents, float32, shape (B, F, d).
    """
    batch, nodes, width = states.shape
    flat = states.float().transpose(0, 1).reshape(nodes, batch * width)
    with torch.autocast(states.device.type, enabled=False):  # sparse products have no bf16 CPU kernel
        aggregated = _SharedSparseProduct.apply(flat, edge_index, edge_weight.float())
    return aggregated.view(nodes, batch, width).transpose(0, 1)
