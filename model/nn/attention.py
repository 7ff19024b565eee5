"""Causal attention blocks (docs/design.md §2.4): pre-LN transformer blocks with lattice-following attention.

The blocks use causal RoPE and run attention on the fused SDPA kernel with an additive bias: the lattice mask
plus the causal prior as `log P`. `kl_causal` is computed from an explicit softmax over a subset of query rows,
never from all B×H×T×T probabilities at once. Why, and what floor the mask sets under the KL: docs/design.md §2.4
and docs/science.md, "Exp-1: the KL is the mask's floor".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from model.nn.message_passing import LatticeView
from model.nn.rope import CausalRoPE

__all__ = [
    "CausalBlock",
    "CausalSelfAttention",
    "attention_bias",
    "attention_kl",
    "attention_kl_floor",
    "causal_prior",
    "row_attention",
    "row_kl",
]


def causal_prior(distances: torch.Tensor, temperature: float) -> torch.Tensor:
    """Row-stochastic causal prior P_ij ∝ exp(-D_ij / τ) over the feature tokens.

    Near variables in the lattice get more prior attention than far ones.

    Args:
        distances (torch.Tensor): hop distances D on the symmetrised thresholded lattice, shape (F, F).
        temperature (float): τ; a smaller τ puts more of each row's mass on near neighbours.

    Returns:
        torch.Tensor: the prior P, shape (F, F); each row sums to 1.
    """
    return torch.softmax(-distances / temperature, dim=-1)


def attention_bias(view: LatticeView, prior: torch.Tensor, prior_weight: float) -> torch.Tensor:
    """Additive attention bias over [CLS] + feature tokens: the lattice mask plus the weighted log prior.

    A feature token may attend to itself and its ancestors (`view.attends`); `[CLS]` to itself and the features
    the prediction may read (the label's non-descendants), so no path carries the label's descendants into
    `[CLS]`. Where attention is not allowed the bias is -inf, elsewhere `prior_weight * log P` (zero for `[CLS]`'s
    row).

    Args:
        view (LatticeView): the thresholded lattice; its `attends` (F, F) and `readable` (F,) give the mask.
        prior (torch.Tensor): the causal prior P of `causal_prior`, shape (F, F).
        prior_weight (float): how strongly the scores start at the prior (0: the mask alone).

    Returns:
        torch.Tensor: the bias, shape (T, T') with T = F + 1 and T' the next multiple of 16. Callers use
        `[:, :T]`, a view whose rows stay 16-aligned, which the fused memory-efficient kernel needs to take an
        arbitrary bias (without it SDPA falls back to materialising every B x heads x T x T score).
    """
    n = prior.shape[0]
    tokens = n + 1
    padded = -(-tokens // 16) * 16
    allowed = torch.zeros(tokens, padded, dtype=torch.bool, device=prior.device)
    allowed[0, 0] = True
    allowed[0, 1:tokens] = view.readable
    allowed[1:, 1:tokens] = view.attends | torch.eye(n, dtype=torch.bool, device=prior.device)
    bias = torch.zeros(tokens, padded, device=prior.device)
    bias[1:, 1:tokens] = prior_weight * prior.clamp_min(1e-30).log()
    return bias.masked_fill(~allowed, float("-inf"))


def attention_kl(weights: torch.Tensor, prior_rows: torch.Tensor) -> torch.Tensor:
    """Mean over query rows (and batch, heads) of KL(attention_i ‖ P_i) on the feature tokens: `kl_causal`.

    The [CLS] column is dropped and the rows renormalised, so the KL compares attention among features only.

    Args:
        weights (torch.Tensor): attention of R feature query rows over [CLS] + features, shape (..., R, F + 1).
        prior_rows (torch.Tensor): the causal prior's rows for those queries, shape (R, F).

    Returns:
        torch.Tensor: the mean KL in nats, a scalar.
    """
    features = weights[..., 1:]
    features = features / features.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    log_ratio = features.clamp_min(1e-12).log() - prior_rows.clamp_min(1e-12).log()
    return (features * log_ratio).sum(dim=-1).mean()


def attention_kl_floor(prior: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The least `kl_causal` any attention under the lattice mask can have.

    It is the mean over feature query rows of −log Σ_{j allowed} P_ij. The prior spreads mass over every
    feature by lattice distance, and the mask lets a feature token attend only to itself and its ancestors:
    attention cannot put mass where the mask forbids it, so row i's KL(attention_i ‖ P_i) is at least −log of
    the prior's mass on the allowed keys, reached exactly when attention is the prior renormalised over them (as
    it is with the `log P` bias and zero scores).

    Args:
        prior (torch.Tensor): the causal prior P, shape (F, F).
        bias (torch.Tensor): the attention bias of `attention_bias` (−inf where not allowed), shape (F + 1, T').

    Returns:
        torch.Tensor: the floor in nats, a scalar.
    """
    n = prior.shape[0]
    allowed = torch.isfinite(bias[1:, 1 : n + 1])
    return -(prior * allowed).sum(dim=-1).clamp_min(1e-30).log().mean()


def row_attention(
    q_rows: torch.Tensor, k: torch.Tensor, bias_rows: torch.Tensor, scale: float
) -> torch.Tensor:
    """The explicit attention of some query rows, in float32, for Exp-1 and the KL term.

    Args:
        q_rows (torch.Tensor): rotated queries of the R rows, shape (B, heads, R, d_h).
        k (torch.Tensor): rotated keys of every token, shape (B, heads, T, d_h).
        bias_rows (torch.Tensor): the attention bias's rows for those queries, shape (R, T).
        scale (float): the score scale, d_h ** -0.5.

    Returns:
        torch.Tensor: attention weights, shape (B, heads, R, T); each row sums to 1.
    """
    return torch.softmax((q_rows @ k.transpose(-2, -1)).float() * scale + bias_rows, dim=-1)


def row_kl(
    q_rows: torch.Tensor, k: torch.Tensor, bias_rows: torch.Tensor, prior_rows: torch.Tensor, scale: float
) -> torch.Tensor:
    """`kl_causal` of some query rows, from queries and keys (one function, so it can run under checkpointing).

    Args:
        q_rows (torch.Tensor): rotated queries of the R feature rows, shape (B, heads, R, d_h).
        k (torch.Tensor): rotated keys of every token, shape (B, heads, T, d_h).
        bias_rows (torch.Tensor): the attention bias's rows for those queries, shape (R, T).
        prior_rows (torch.Tensor): the causal prior's rows for those queries, shape (R, F).
        scale (float): the score scale, d_h ** -0.5.

    Returns:
        torch.Tensor: the mean KL in nats, a scalar.
    """
    return attention_kl(row_attention(q_rows, k, bias_rows, scale), prior_rows)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention with causal RoPE and the lattice's additive bias, on the fused SDPA kernel.

    Args:
        d_model (int): token width d; split into `n_heads` heads of d / n_heads channels.
        n_heads (int): number of attention heads.
        dropout (float): attention dropout while training.

    Shapes:
        - **input:** token states `h` (B, T, d) with T = F + 1 ([CLS] first); RoPE `cos`, `sin` (T, d_h / 2);
          the attention bias (T, T').
        - **output:** the attended states (B, T, d), and optionally the explicit attention (B, heads, R, T) or
          the scalar `kl_causal` of R query rows.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = dropout
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the projections' weights afresh."""
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
        """Attend, and optionally report the attention or the KL of some query rows.

        The output always comes from the fused `scaled_dot_product_attention` kernel. With `weight_rows`
        (token indices) `extra` is the explicit attention of those query rows, for Exp-1; with `prior_rows` too,
        it is their `kl_causal` instead, estimated on every `kl_stride`-th sample and computed under activation
        checkpointing so that no samples x heads x R x T tensor is kept for the backward pass (the training
        path).

        Args:
            h (torch.Tensor): normalised token states, shape (B, T, d).
            cos (torch.Tensor): RoPE cosines per token, shape (T, d_h / 2).
            sin (torch.Tensor): RoPE sines per token, shape (T, d_h / 2).
            bias (torch.Tensor): the padded attention bias of `attention_bias`, shape (T, T').
            weight_rows (torch.Tensor | None): token indices of the R query rows to report, shape (R,).
            prior_rows (torch.Tensor | None): the causal prior's rows for them, shape (R, F).
            kl_stride (int): estimate the KL on every `kl_stride`-th sample only.

        Returns:
            tuple[torch.Tensor, torch.Tensor | None]: the output (B, T, d) and `extra`: None, the attention
            (B, heads, R, T), or the scalar `kl_causal`.
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
    """Pre-LN transformer block (causal self-attention, then a GELU MLP) that returns its residual update.

    `forward` returns the residual update delta, not `h + delta`, so the caller computes `h + route * delta`
    (route 1 everywhere is exactly the dense model).

    Args:
        d_model (int): token width d.
        n_heads (int): number of attention heads.
        mlp_ratio (float): the MLP's hidden width as a multiple of d.
        dropout (float): dropout on the attention and the MLP update while training.

    Shapes:
        - **input:** token states `h` (B, T, d); RoPE `cos`, `sin` (T, d_h / 2); the attention bias (T, T').
        - **output:** the residual update delta (B, T, d), and `extra` as `CausalSelfAttention`'s.
    """

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
        """Draw the block's weights afresh (norms, attention and MLP)."""
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
        """The block's residual update delta for token states `h`.

        Args:
            h (torch.Tensor): token states, shape (B, T, d).
            cos (torch.Tensor): RoPE cosines per token, shape (T, d_h / 2).
            sin (torch.Tensor): RoPE sines per token, shape (T, d_h / 2).
            bias (torch.Tensor): the padded attention bias, shape (T, T').
            weight_rows (torch.Tensor | None): token indices of the R query rows whose attention to report.
            prior_rows (torch.Tensor | None): the causal prior's rows for them, shape (R, F): report the KL.
            kl_stride (int): estimate the KL on every `kl_stride`-th sample only.

        Returns:
            tuple[torch.Tensor, torch.Tensor | None]: delta (B, T, d) and the attention's `extra`.
        """
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
        """`h + route * delta` for a full batch: the routed residual update.

        One function, so a compiled block fuses the residual update into its own kernels instead of three more
        passes over the (B, T, d) stream.

        Args:
            h (torch.Tensor): token states, shape (B, T, d).
            route (torch.Tensor): each sample's switch for this block (0/1, or straight-through), shape (B,).
            cos (torch.Tensor): RoPE cosines per token, shape (T, d_h / 2).
            sin (torch.Tensor): RoPE sines per token, shape (T, d_h / 2).
            bias (torch.Tensor): the padded attention bias, shape (T, T').
            weight_rows (torch.Tensor | None): token indices of the R query rows whose attention to report.
            prior_rows (torch.Tensor | None): the causal prior's rows for them, shape (R, F): report the KL.
            kl_stride (int): estimate the KL on every `kl_stride`-th sample only.

        Returns:
            tuple[torch.Tensor, torch.Tensor | None]: the updated states (B, T, d) and the attention's `extra`.
        """
        delta, extra = self(h, cos, sin, bias, weight_rows, prior_rows, kl_stride)
        return h + route[:, None, None] * delta, extra
