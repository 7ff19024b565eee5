"""LatticeEncoder: a learned directed adjacency over the variables, message passing over it with
torch-geometric, and a structural-equation head that predicts each variable from its parents (SPEC §2.2)."""

from __future__ import annotations

import networkx as nx
import torch
from torch import nn
from torch_geometric.nn import GraphConv


def notears_acyclicity(adjacency: torch.Tensor) -> torch.Tensor:
    """h(A) = tr(exp(A * A)) - F: zero exactly when the weighted graph has no directed cycle (NOTEARS)."""
    return torch.matrix_exp(adjacency * adjacency).diagonal().sum() - adjacency.shape[0]


class LatticeEncoder(nn.Module):
    """Learns `A = sigmoid(theta / tau)` (diagonal masked; A[i, j] is the weight of edge i -> j).

    `forward` message-passes feature tokens along A with a torch-geometric `GraphConv`; `reconstruct`
    is the structural-equation head `x_hat_j = f(sum_i A_ij * phi(t_i) + e_j)`, which by construction never
    sees variable j's own token.
    """

    off_diagonal: torch.Tensor
    edge_index: torch.Tensor

    def __init__(
        self,
        feature_names: list[str],
        d_model: int,
        temperature: float = 0.5,
        threshold: float = 0.5,
        init_logit: float = -1.0,
    ) -> None:
        super().__init__()
        self.feature_names = list(feature_names)
        n = len(self.feature_names)
        self.temperature = temperature
        self.threshold = threshold
        self.init_logit = init_logit
        self.theta = nn.Parameter(torch.empty(n, n))
        self.register_buffer("off_diagonal", ~torch.eye(n, dtype=torch.bool), persistent=False)
        sources, targets = torch.nonzero(~torch.eye(n, dtype=torch.bool), as_tuple=True)
        self.register_buffer("edge_index", torch.stack([sources, targets]), persistent=False)
        self.conv = GraphConv(d_model, d_model, aggr="add")
        self.norm = nn.LayerNorm(d_model)
        self.parent_message = nn.Sequential(
            nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, d_model)
        )
        self.structural_head = nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, 1)
        )
        self.reset_parameters()

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def reset_parameters(self) -> None:
        # Start below 0.5 with small noise: sparse-leaning and symmetric-breaking.
        nn.init.normal_(self.theta, mean=self.init_logit * self.temperature, std=0.01)
        self.conv.reset_parameters()
        self.norm.reset_parameters()
        for module in (*self.parent_message, *self.structural_head):
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def adjacency(self) -> torch.Tensor:
        """(F, F) soft adjacency in (0, 1) with a zero diagonal."""
        return torch.sigmoid(self.theta / self.temperature) * self.off_diagonal

    def forward(self, tokens: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Message passing over the lattice: (B, F, d) -> (B, F, d), residual."""
        batch, n, d = tokens.shape
        # One graph per sample, batched the torch-geometric way: node ids offset by b * F.
        offsets = (torch.arange(batch, device=tokens.device) * n).repeat_interleave(self.edge_index.shape[1])
        edge_index = self.edge_index.repeat(1, batch) + offsets
        edge_weight = adjacency[self.edge_index[0], self.edge_index[1]].repeat(batch)
        messages = self.conv(tokens.reshape(batch * n, d), edge_index, edge_weight)
        return tokens + self.norm(messages).reshape(batch, n, d)

    def reconstruct(
        self, tokens: torch.Tensor, identity: torch.Tensor, adjacency: torch.Tensor
    ) -> torch.Tensor:
        """Structural equations: (B, F, d) feature tokens -> (B, F) predictions from parents only."""
        parent_sum = torch.einsum("ij,bid->bjd", adjacency, self.parent_message(tokens))
        return self.structural_head(parent_sum + identity).squeeze(-1)

    def get_graph(self, threshold: float | None = None) -> nx.DiGraph:
        """The learned lattice as a weighted DiGraph over feature names (edges with A_ij >= threshold)."""
        cutoff = self.threshold if threshold is None else threshold
        weights = self.adjacency().detach().cpu().numpy()
        graph = nx.DiGraph(threshold=cutoff)
        graph.add_nodes_from(self.feature_names)
        for i, source in enumerate(self.feature_names):
            for j, target in enumerate(self.feature_names):
                if i != j and weights[i, j] >= cutoff:
                    graph.add_edge(source, target, weight=float(weights[i, j]))
        return graph
