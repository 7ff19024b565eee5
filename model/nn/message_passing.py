"""LatticeEncoder: the learned causal lattice over the variables and message passing over it (SPEC §2.2).

The lattice is the output of the structure learner (`model.structure.equations`): edge-inclusion probabilities over the
features, plus the label as one more node when the data has a label. The predictor reads it detached, through a
`LatticeView` computed once per lattice: a sparse parent -> child edge list (each node's top-k parents) for
message passing with edges shared across the batch, the ancestral relation, hop distances and
the features the prediction may read (the label's non-descendants). Every quantity is computed with matrix
products on the lattice's device; nothing loops over features.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import torch
from torch import nn
from torch_geometric.nn import GraphConv

from model.structure.equations import StructuralEquationModel
from model.structure.graph_ops import aggregate_parents, hop_distances, transitive_closure


@dataclass(frozen=True)
class LatticeView:
    """What the predictor reads from the lattice (all detached, on the lattice's device)."""

    adjacency: torch.Tensor  # (F, F) edge probabilities between features
    linked: torch.Tensor  # (F, F) bool: thresholded edges between features
    edge_index: torch.Tensor  # (2, E) parent -> child, each child's top-k parents among the linked ones
    edge_weight: torch.Tensor  # (E,)
    ancestors: torch.Tensor  # (F, F) bool: ancestors[i, j] = j is an ancestor of i (through any node)
    readable: torch.Tensor  # (F,) bool: features the prediction may read
    distances: torch.Tensor  # (F, F) hop distances on the symmetrised thresholded feature lattice
    is_dag: bool


class SharedEdgeGraphConv(GraphConv):
    """torch-geometric's `GraphConv`, x'_j = W₁·x_j + W₂·Σ_(i→j) w_ij·x_i, for a batch of token sets that share
    one edge list. PyG's static-graph mode gathers a (B, E, d) tensor of per-edge messages (the out-of-memory
    of issue 9); here the sum is one sparse product over the whole batch (`aggregate_parents`)."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        aggregated = aggregate_parents(x, edge_index, edge_weight).to(x.dtype)
        return self.lin_rel(aggregated) + self.lin_root(x)


class LatticeEncoder(nn.Module):
    """Holds the structural-equation model (and with it the lattice) and message-passes feature tokens
    along the lattice with a torch-geometric `GraphConv` (`SharedEdgeGraphConv`)."""

    def __init__(
        self,
        feature_names: list[str],
        d_model: int,
        sem: StructuralEquationModel,
        threshold: float = 0.5,
        top_k_parents: int = 8,
    ) -> None:
        super().__init__()
        self.feature_names = list(feature_names)
        self.sem = sem
        self.threshold = threshold
        self.top_k_parents = top_k_parents
        self.conv = SharedEdgeGraphConv(d_model, d_model, aggr="add")
        self.norm = nn.LayerNorm(d_model)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def reset_parameters(self) -> None:
        self.sem.reset_parameters()
        self.conv.reset_parameters()
        self.norm.reset_parameters()

    def full_adjacency(self) -> torch.Tensor:
        """(N, N) edge probabilities over the features and, last, the label node when there is one."""
        return self.sem.adjacency()

    def adjacency(self) -> torch.Tensor:
        """(F, F) edge probabilities between features; A[i, j] is the probability of edge i -> j."""
        n = self.n_features
        return self.sem.adjacency()[:n, :n]

    @torch.no_grad()
    def view(self) -> LatticeView:
        """The thresholded lattice and everything derived from it, detached."""
        full = self.sem.adjacency().detach()
        n = self.n_features
        linked_full = full >= self.threshold
        reach = transitive_closure(linked_full)
        is_dag = not bool(reach.diagonal().any())
        label = self.sem.label_node
        readable = torch.ones(n, dtype=torch.bool, device=full.device) if label is None else ~reach[label, :n]
        adjacency = full[:n, :n]
        linked = linked_full[:n, :n]
        # Each child keeps its k most probable parents among the linked ones: message passing stays sparse.
        k = min(self.top_k_parents, n)
        weights, parents = (adjacency * linked).topk(k, dim=0)
        children = torch.arange(n, device=full.device).expand(k, n)
        keep = weights > 0
        return LatticeView(
            adjacency=adjacency,
            linked=linked,
            edge_index=torch.stack([parents[keep], children[keep]]),
            edge_weight=weights[keep],
            ancestors=reach[:n, :n].T.contiguous(),
            readable=readable,
            distances=hop_distances(linked),
            is_dag=is_dag,
        )

    def forward(
        self, tokens: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor
    ) -> torch.Tensor:
        """Message passing from parents to children: (B, F, d) -> (B, F, d), residual. The edge list is
        shared by every sample (one sparse product for the batch), never replicated per sample."""
        messages = self.conv(tokens, edge_index, edge_weight)
        return tokens + self.norm(messages)

    def get_graph(self, threshold: float | None = None, label_name: str | None = None) -> nx.DiGraph:
        """The learned lattice as a weighted DiGraph over feature names (edges with A_ij >= threshold).

        With `label_name` and a label node, the label joins the graph under that name.
        """
        cutoff = self.threshold if threshold is None else threshold
        weights = self.sem.adjacency().detach().cpu()
        names = list(self.feature_names)
        if label_name is None or self.sem.label_node is None:
            weights = weights[: self.n_features, : self.n_features]
        else:
            names.append(label_name)
        graph = nx.DiGraph(threshold=cutoff)
        graph.add_nodes_from(names)
        sources, targets = torch.nonzero(weights >= cutoff, as_tuple=True)
        graph.add_weighted_edges_from(
            (names[i], names[j], float(weights[i, j]))
            for i, j in zip(sources.tolist(), targets.tolist(), strict=True)
        )
        return graph
