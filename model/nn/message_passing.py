"""LatticeEncoder: the learned causal lattice over the variables and message passing over it (docs/design.md §2.2).

The lattice is the output of the structure learner (`model.structure.equations`): edge-inclusion probabilities over the
features, plus the label as one more node when the data has a label. The predictor reads it detached, through a
`LatticeView` computed once per lattice: a sparse parent -> child edge list (each node's top-k parents) for
message passing with edges shared across the batch, the ancestral relation, hop distances and
the features the prediction may read (the label's non-descendants, or its parents only). Every quantity is
computed with matrix products on the lattice's device; nothing loops over features.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import torch
from torch import nn
from torch_geometric.nn import GraphConv

from model.structure.equations import StructuralEquationModel
from model.structure.graph_ops import aggregate_parents, hop_distances, transitive_closure

__all__ = ["LatticeEncoder", "LatticeView", "SharedEdgeGraphConv"]


@dataclass(frozen=True)
class LatticeView:
    """What the predictor reads from the lattice (all detached, on the lattice's device).

    Attributes:
        adjacency (torch.Tensor): edge probabilities between features, shape (F, F).
        linked (torch.Tensor): bool, the thresholded edges between features, shape (F, F).
        edge_index (torch.Tensor): parent -> child edges, each child's top-k parents among the linked ones,
            shape (2, E).
        edge_weight (torch.Tensor): those edges' probabilities, shape (E,).
        ancestors (torch.Tensor): bool, `ancestors[i, j]`: j is an ancestor of i (through any node, the label
            included), shape (F, F).
        attends (torch.Tensor): bool, `attends[i, j]`: feature token i may attend to feature j besides itself:
            its ancestors, and for a read label parent under `reads="label_parents"` only the read parents
            among them, shape (F, F).
        readable (torch.Tensor): bool, the features the prediction may read, shape (F,).
        distances (torch.Tensor): hop distances on the symmetrised thresholded feature lattice, shape (F, F).
        is_dag (bool): whether the thresholded lattice (label included) has no directed cycle.
    """

    adjacency: torch.Tensor
    linked: torch.Tensor
    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    ancestors: torch.Tensor
    attends: torch.Tensor
    readable: torch.Tensor
    distances: torch.Tensor
    is_dag: bool


class SharedEdgeGraphConv(GraphConv):
    """torch-geometric's `GraphConv` for a batch of token sets that share one edge list.

    x'_j = W₁·x_j + W₂·Σ_(i→j) w_ij·x_i, with GraphConv's own weights (`lin_root` W₁, `lin_rel` W₂). PyG's
    static-graph mode gathers a (B, E, d) tensor of per-edge messages (the out-of-memory of issue 9); here the
    sum is one sparse product over the whole batch (`aggregate_parents`). Constructor arguments are
    `GraphConv`'s.

    Shapes:
        - **input:** node states `x` (B, F, d), shared edges `edge_index` (2, E) and `edge_weight` (E,).
        - **output:** updated node states (B, F, d_out).
    """

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        """Apply the convolution to every sample over the shared edges.

        Args:
            x (torch.Tensor): node states, shape (B, F, d).
            edge_index (torch.Tensor): parent -> child edges, shape (2, E).
            edge_weight (torch.Tensor): edge weights w_ij, shape (E,).

        Returns:
            torch.Tensor: x' of shape (B, F, d_out).
        """
        aggregated = aggregate_parents(x, edge_index, edge_weight).to(x.dtype)
        return self.lin_rel(aggregated) + self.lin_root(x)


class LatticeEncoder(nn.Module):
    """The lattice's holder and message passing of feature tokens along it.

    Holds the structural-equation model (and with it the lattice) and message-passes feature tokens along the
    lattice with a torch-geometric `GraphConv` (`SharedEdgeGraphConv`), as a LayerNorm-ed residual update.

    Args:
        feature_names (list[str]): the F feature names, in column order; the nodes of `get_graph`.
        d_model (int): token width d.
        sem (StructuralEquationModel): the structure learner whose edge probabilities are the lattice.
        threshold (float): an edge is in the thresholded lattice when its probability is at least this.
        top_k_parents (int): each node's message passing reads at most its k most probable linked parents.
        reads (str): the features the prediction may read: the label's non-descendants (`"non_descendants"`) or
            its parents in the thresholded lattice only (`"label_parents"`): then the parents' tokens receive no
            messages and attend to the other read parents only, so nothing but the parents' values reaches
            `[CLS]`.

    Shapes:
        - **input:** feature tokens (B, F, d), edges `edge_index` (2, E) and `edge_weight` (E,) from `view()`.
        - **output:** feature tokens (B, F, d).
    """

    def __init__(
        self,
        feature_names: list[str],
        d_model: int,
        sem: StructuralEquationModel,
        threshold: float = 0.5,
        top_k_parents: int = 8,
        reads: str = "non_descendants",
    ) -> None:
        super().__init__()
        self.feature_names = list(feature_names)
        self.sem = sem
        self.threshold = threshold
        self.top_k_parents = top_k_parents
        self.reads = reads
        self.conv = SharedEdgeGraphConv(d_model, d_model, aggr="add")
        self.norm = nn.LayerNorm(d_model)

    @property
    def n_features(self) -> int:
        """The number of features F (the label node, if any, not counted)."""
        return len(self.feature_names)

    def reset_parameters(self) -> None:
        """Reset the structural-equation model (edges at probability 0.5), the convolution and the norm."""
        self.sem.reset_parameters()
        self.conv.reset_parameters()
        self.norm.reset_parameters()

    def full_adjacency(self) -> torch.Tensor:
        """Edge probabilities over the features and, last, the label node when there is one.

        Returns:
            torch.Tensor: A with A[i, j] the probability of edge i -> j, shape (N, N), N = F or F + 1.
        """
        return self.sem.adjacency()

    def adjacency(self) -> torch.Tensor:
        """Edge probabilities between features.

        Returns:
            torch.Tensor: A with A[i, j] the probability of edge i -> j, shape (F, F).
        """
        n = self.n_features
        return self.sem.adjacency()[:n, :n]

    @torch.no_grad()
    def view(self) -> LatticeView:
        """The thresholded lattice and everything the predictor derives from it, detached.

        Returns:
            LatticeView: edges for message passing, the ancestral relation, hop distances and the readable
            features, on the lattice's device.
        """
        full = self.sem.adjacency().detach()
        n = self.n_features
        linked_full = full >= self.threshold
        reach = transitive_closure(linked_full)
        is_dag = not bool(reach.diagonal().any())
        label = self.sem.label_node
        ancestors = reach[:n, :n].T.contiguous()
        attends = ancestors
        # Only the label's parents reach [CLS]: cut their tokens off from everything else (no messages in,
        # attention among the read parents only), so the prediction is a function of the parents' values alone.
        parents_only = label is not None and self.reads == "label_parents"
        if label is None:
            readable = torch.ones(n, dtype=torch.bool, device=full.device)
        elif parents_only:
            readable = linked_full[:n, label] & ~reach[label, :n]
            attends = ancestors.clone()
            attends[readable] &= readable
        else:
            readable = ~reach[label, :n]
        adjacency = full[:n, :n]
        linked = linked_full[:n, :n]
        # Each child keeps its k most probable parents among the linked ones: message passing stays sparse.
        k = min(self.top_k_parents, n)
        weights, parents = (adjacency * linked).topk(k, dim=0)
        children = torch.arange(n, device=full.device).expand(k, n)
        keep = (weights > 0) & ~readable[children] if parents_only else weights > 0
        return LatticeView(
            adjacency=adjacency,
            linked=linked,
            edge_index=torch.stack([parents[keep], children[keep]]),
            edge_weight=weights[keep],
            ancestors=ancestors,
            attends=attends,
            readable=readable,
            distances=hop_distances(linked),
            is_dag=is_dag,
        )

    def forward(
        self, tokens: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor
    ) -> torch.Tensor:
        """Message passing from parents to children, as a residual update.

        The edge list is shared by every sample (one sparse product for the batch), never replicated per sample.

        Args:
            tokens (torch.Tensor): feature tokens, shape (B, F, d).
            edge_index (torch.Tensor): parent -> child edges, shape (2, E).
            edge_weight (torch.Tensor): edge weights, shape (E,).

        Returns:
            torch.Tensor: `tokens + LayerNorm(GraphConv(tokens))`, shape (B, F, d).
        """
        messages = self.conv(tokens, edge_index, edge_weight)
        return tokens + self.norm(messages)

    def get_graph(self, threshold: float | None = None, label_name: str | None = None) -> nx.DiGraph:
        """The learned lattice as a weighted DiGraph over feature names (edges with A_ij >= threshold).

        Args:
            threshold (float | None): the edge cut-off; None uses the encoder's `threshold`.
            label_name (str | None): with a label node, the label joins the graph under this name.

        Returns:
            nx.DiGraph: nodes are the feature names (and the label's), edges carry `weight` = A_ij; the graph's
            `threshold` attribute is the cut-off used.
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
