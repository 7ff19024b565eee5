"""Causal attention blocks (SPEC §2.4): pre-LN transformer blocks with causal RoPE whose attention follows the
lattice, on the fused SDPA kernel with an additive bias.

The bias holds two things. A mask: a feature token attends to itself and its ancestors in the lattice, and
`[CLS]` attends to itself and the features the prediction may read (the label's non-descendants), so no path
carries information from the label's descendants into `[CLS]`. And the causal prior `P_ij ∝ exp(-D_ij / τ)`
(D: hop distances on the symmetrised lattice) as `log P`, so attention starts at the prior and the KL term
measures how far it moved. `kl_causal` is the mean over query rows of KL(attention_i ‖ P_i), computed from an
explicit softmax over a subset of query rows (under activation checkpointing while training), never from all
B×H×T×T probabilities at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from model.nn.message_passing import LatticeView
from model.nn.rope import CausalRoPE


def causal_prior(distances: torch.Tensor, temperature: float) -> torch.Tensor:
    """Row-stochastic prior P_ij ∝ exp(-D_ij / τ) over feature tokens (F, F)."""
    return torch.softmax(-distances / temperature, dim=-1)


def attention_bias(view: LatticeView, prior: torch.Tensor, prior_weight: float) -> torch.Tensor:
    """Additive bias over [CLS] + feature tokens: -inf where attention is not allowed, `prior_weight * log P`
    elsewhere. Shape (T, T') with T = F + 1 and T' the next multiple of 16: callers use `[:, :T]`, a view
    whose rows stay 16-aligned, which the fused memory-efficient kernel needs to take an arbitrary bias
    (without it SDPA falls back to materialising every B x heads x T x T score)."""
    n = prior.shape[0]
    tokens = n + 1
    padded = -(-tokens // 16) * 16
    allowed = torch.zeros(tokens, padded, dtype=torch.bool, device=prior.device)
    allowed[0, 0] = True
    allowed[0, 1:tokens] = view.readable
    allowed[1:, 1:tokens] = view.ancestors | torch.eye(n, dtype=torch.bool, device=prior.device)
    bias = torch.zeros(tokens, padded, device=prior.device)
    bias[1:, 1:tokens] = prior_weight * prior.clamp_min(1e-30).log()
    return bias.masked_fill(~allowed, float("-inf"))


def attention_kl(weights: torch.Tensor, prior_rows: torch.Tensor) -> torch.Tensor:
    """Mean over query rows (and batch, heads) of KL(attention_i ‖ P_i) on feature tokens.

    weights: (..., R, F+1) attention of R feature query rows over [CLS] + features; prior_rows: (R, F).
    The [CLS] column is dropped and rows renormalised.
    """
    features = weights[..., 1:]
    features = features / features.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    log_ratio = features.clamp_min(1e-12).log() - prior_rows.clamp_min(1e-12).log()
    return (features * log_ratio).sum(dim=-1).mean()


def attention_kl_floor(prior: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The least `kl_causal` any attention under the lattice mask can have: the mean over feature query rows of
    −log Σ_{j allowed} P_ij.

    The prior spreads mass over every feature by lattice distance, and the mask lets a feature token attend
    only to itself and its ancestors: attention cannot put mass where the mask forbids it, so row i's
    KL(attention_i ‖ P_i) is at least −log of the prior's mass on the allowed keys, reached exactly when
    attention is the prior renormalised over them (as it is with the `log P` bias and zero scores).

    prior: (F, F); bias: the (F+1, T') attention bias of `attention_bias` (−inf where not allowed).
    """
    n = prior.shape[0]
    allowed = torch.isfinite(bias[1:, 1 : n + 1])
    return -(prior * allowed).sum(dim=-1).clamp_min(1e-30).log().mean()


def row_attention(
    q_rows: torch.Tensor, k: torch.Tensor, bias_rows: torch.Tensor, scale: float
) -> torch.Tensor:
    """The explicit softmax of some query rows (float32): (B, heads, R, d_h) x (B, heads, T, d_h) -> (B, heads, R, T)."""
    return torch.softmax((q_rows @ k.transpose(-2, -1)).float() * scale + bias_rows, dim=-1)


def row_kl(
    q_rows: torch.Tensor, k: torch.Tensor, bias_rows: torch.Tensor, prior_rows: torch.Tensor, scale: float
) -> torch.Tensor:
    """kl_causal of some query rows, from queries and keys."""
    return attention_kl(row_attention(q_rows, k, bias_rows, scale), prior_rows)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = dropout
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.qkv.reset_parameters()
        self.out.reset_parameters()

    def forward(
        self,
        h: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        bias: torch.Tensor,
        weight_rows: torch.Tensor | None = None,
        prior_rows: torch.Tensor | None = None,
        kl_stride: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """h (B, T, d) -> (output (B, T, d), extra).

        The output always comes from the fused `scaled_dot_product_attention` kernel. With `weight_rows`
        (token indices) `extra` is the explicit attention of those query rows (B, heads, R, T), for Exp-1; with
        `prior_rows` too, it is their `kl_causal` instead, estimated on every `kl_stride`-th sample and computed
        under activation checkpointing so that no samples x heads x R x T tensor is kept for the backward pass
        (the training path).
        """
        batch, tokens, d = h.shape
        q, k, v = self.qkv(h).view(batch, tokens, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = CausalRoPE.rotate(q, cos, sin), CausalRoPE.rotate(k, cos, sin)
        dropout = self.dropout if self.training else 0.0
        mask = bias.to(q.dtype)[:, :tokens]  # convert the padded storage, then slice: rows stay aligned
        mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        extra = None
        if weight_rows is not None:
            bias_rows, scale = bias[weight_rows, :tokens], self.head_dim**-0.5
            if prior_rows is None:
                extra = row_attention(q[:, :, weight_rows], k, bias_rows, scale)
            else:
                q_rows, k_rows = q[::kl_stride, :, weight_rows], k[::kl_stride]
                extra = checkpoint(row_kl, q_rows, k_rows, bias_rows, prior_rows, scale, use_reentrant=False)
        return self.out(mixed.transpose(1, 2).reshape(batch, tokens, d)), extra


class CausalBlock(nn.Module):
    """Pre-LN transformer block; `forward` returns the residual update delta, so the caller computes
    `h + route * delta` (route 1 everywhere is exactly the dense model)."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, n_heads, dropout)
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
        self,
        h: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        bias: torch.Tensor,
        weight_rows: torch.Tensor | None = None,
        prior_rows: torch.Tensor | None = None,
        kl_stride: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, extra = self.attention(
            self.attn_norm(h), cos, sin, bias, weight_rows, prior_rows, kl_stride
        )
        attended = self.dropout(attended)
        mlp_update = self.dropout(self.mlp(self.mlp_norm(h + attended)))
        return attended + mlp_update, extra

    def routed_update(
        self,
        h: torch.Tensor,
        route: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        bias: torch.Tensor,
        weight_rows: torch.Tensor | None = None,
        prior_rows: torch.Tensor | None = None,
        kl_stride: int = 1,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`h + route * delta` for a full batch (route (B,)): one function, so a compiled block fuses the residual
        update into its own kernels instead of three more passes over the (B, T, d) stream."""
        delta, extra = self(h, cos, sin, bias, weight_rows, prior_rows, kl_stride)
        return h + route[:, None, None] * delta, extra
