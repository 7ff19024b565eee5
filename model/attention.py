"""Causal attention blocks: pre-LN transformer blocks with causal RoPE, a fused (SDPA) path and an explicit
path that returns the attention weights, and the lattice-distance prior for `kl_causal` (SPEC §2.4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.rope import CausalRoPE


def lattice_distances(adjacency: torch.Tensor, threshold: float) -> torch.Tensor:
    """Hop distances (F, F) on the symmetrised, thresholded lattice; unreachable pairs get F."""
    with torch.no_grad():
        n = adjacency.shape[0]
        linked = adjacency.detach() >= threshold
        linked = linked | linked.T
        distance = torch.full((n, n), float(n), device=adjacency.device)
        distance[linked] = 1.0
        distance.fill_diagonal_(0.0)
        for k in range(n):  # Floyd-Warshall; F is tens of variables
            distance = torch.minimum(distance, distance[:, k : k + 1] + distance[k : k + 1, :])
        return distance


def causal_prior(adjacency: torch.Tensor, threshold: float, temperature: float) -> torch.Tensor:
    """Row-stochastic prior P_ij ∝ exp(-D_ij / tau) over feature tokens."""
    return torch.softmax(-lattice_distances(adjacency, threshold) / temperature, dim=-1)


def attention_kl(attention: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Mean over query rows of KL(attention_i || P_i), on feature tokens only (CLS row/column dropped and
    rows renormalised). attention: (..., F+1, F+1); prior: (F, F)."""
    features = attention[..., 1:, 1:]
    features = features / features.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    kl = (features * (features.clamp_min(1e-12).log() - prior.clamp_min(1e-12).log())).sum(dim=-1)
    return kl.mean()


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, rope: CausalRoPE, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.rope = rope
        self.dropout = dropout
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.qkv.reset_parameters()
        self.out.reset_parameters()

    def forward(
        self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """h (B, T, d) -> (output (B, T, d), weights (B, heads, T, T) or None).

        `need_weights=False` uses the fused `scaled_dot_product_attention` kernel; `True` computes the same
        softmax explicitly so the weights can be returned. Both give the same output.
        """
        batch, tokens, d = h.shape
        q, k, v = self.qkv(h).view(batch, tokens, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = CausalRoPE.rotate(q, cos, sin), CausalRoPE.rotate(k, cos, sin)
        dropout = self.dropout if self.training else 0.0
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) * self.head_dim**-0.5
            weights = torch.softmax(scores, dim=-1)
            mixed = F.dropout(weights, dropout, self.training) @ v
        else:
            weights = None
            mixed = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return self.out(mixed.transpose(1, 2).reshape(batch, tokens, d)), weights


class CausalBlock(nn.Module):
    """Pre-LN transformer block; `forward` returns the residual update delta, so the caller computes
    `h + gate * delta` (gate 1 everywhere is exactly the dense model)."""

    def __init__(
        self, d_model: int, n_heads: int, rope: CausalRoPE, mlp_ratio: float, dropout: float
    ) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, n_heads, rope, dropout)
        self.mlp_norm = nn.LayerNorm(d_model)
        hidden = int(d_model * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.attn_norm.reset_parameters()
        self.mlp_norm.reset_parameters()
        self.attention.reset_parameters()
        for module in self.mlp:
            if isinstance(module, nn.Linear):
                module.reset_parameters()

    def forward(
        self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(self.attn_norm(h), cos, sin, need_weights)
        attended = self.dropout(attended)
        mlp_update = self.dropout(self.mlp(self.mlp_norm(h + attended)))
        return attended + mlp_update, weights
