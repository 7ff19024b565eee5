"""MetaUtilityLayer: per-sample, per-block utilities that switch the causal blocks on and off (docs/design.md §2.6).

Training uses a straight-through hard switch (forward value 0/1, gradient through the soft utility) over the
full batch. Inference really skips: each block runs only on the sub-batch whose switch is on (gather, run,
scatter back), so a skipped block costs no FLOPs. What routing saves, measured: docs/science.md, "Width on one
GPU".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from model.nn.attention import CausalBlock

__all__ = ["MetaUtilityLayer", "RoutedPass", "with_memory_budget"]


@dataclass
class RoutedPass:
    """What one pass through the routed stack produced.

    Attributes:
        hidden (torch.Tensor): the token states after the last block, shape (B, T, d).
        utilities (torch.Tensor): soft utilities in (0, 1), shape (B, n_blocks).
        routes (torch.Tensor): the router's on/off decisions applied (0/1), shape (B, n_blocks).
        attentions (list[torch.Tensor]): per block, the attention of the requested query rows, shape
            (B, heads, R, T); empty when none were requested.
        kl_terms (list[torch.Tensor]): per block, the scalar `kl_causal` of the requested rows, when their prior
            was given.
    """

    hidden: torch.Tensor
    utilities: torch.Tensor
    routes: torch.Tensor
    attentions: list[torch.Tensor]
    kl_terms: list[torch.Tensor]


def with_memory_budget(
    compiled: Callable[..., tuple[torch.Tensor, torch.Tensor | None]], budget: float
) -> Callable[..., tuple[torch.Tensor, torch.Tensor | None]]:
    """`compiled`, called with the activation memory budget set.

    The partition into forward and backward graphs is made when `compiled` compiles (on its first call and on any
    recompilation), so it follows the budget.

    Args:
        compiled (Callable): a `torch.compile`d block's `routed_update`.
        budget (float): `torch._functorch.config.activation_memory_budget`, in (0, 1).

    Returns:
        Callable: `compiled` under the budget.
    """

    def run(*args: object) -> tuple[torch.Tensor, torch.Tensor | None]:
        with torch._functorch.config.patch(activation_memory_budget=budget):
            return compiled(*args)

    return run


class MetaUtilityLayer(nn.Module):
    """Routes each sample through a subset of the causal blocks.

    Block 0 is always on: the [CLS] state entering it is the same learned vector for every sample, so a
    router there could only switch the block on or off for the whole batch (and switching it off leaves [CLS]
    blind to the features). Its utility is reported as 1. Blocks 1.. each have a router: LayerNorm, a GELU MLP
    of width max(d / 4, 4), and a sigmoid over the [CLS] state entering the block.

    Args:
        blocks (list[CausalBlock]): the stack of causal blocks, in order.
        d_model (int): token width d.
        threshold (float): a block runs for a sample when its utility exceeds this.
        init_bias (float): the routers' initial output bias; sigmoid(2.0) = 0.88, so every block starts on.

    Shapes:
        - **input:** token states `h` (B, T, d) with [CLS] first; RoPE `cos`, `sin` (T, d_h / 2); the attention
          bias (T, T').
        - **output:** a `RoutedPass`: states (B, T, d), utilities and routes (B, n_blocks).
    """

    utility_sum: torch.Tensor
    utility_count: torch.Tensor

    def __init__(
        self, blocks: list[CausalBlock], d_model: int, threshold: float = 0.5, init_bias: float = 2.0
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        hidden = max(d_model // 4, 4)
        self.routers = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, 1))
            for _ in blocks[1:]
        )
        self.threshold = threshold
        self.init_bias = init_bias
        self.register_buffer("utility_sum", torch.zeros(len(blocks)), persistent=False)
        self.register_buffer("utility_count", torch.zeros(()), persistent=False)
        # Full-batch passes (training, dense) may run through compiled blocks; a plain list, so the compiled
        # wrappers (which share the blocks' parameters) are not registered twice in the state dict.
        self.full_batch_blocks: list[Callable[..., tuple[torch.Tensor, torch.Tensor | None]]] = []
        self.use_eager_blocks()
        self.reset_parameters()

    def compile_blocks(self, cuda_graphs: bool = False, memory_budget: float = 1.0) -> None:
        """Run full-batch passes through `torch.compile`d blocks.

        With `cuda_graphs` they are replayed as CUDA graphs (one launch per block instead of dozens: at small F
        a step is bound by launches, not by the GPU). Routed inference keeps the eager blocks: its sub-batches
        change size from block to block, which would recompile. A `memory_budget` below 1 has the compiler
        save fewer intermediates for the backward pass and recompute the rest there
        (model/training/device.py::activation_memory_budget says when).

        Args:
            cuda_graphs (bool): compile with `mode="reduce-overhead"` (CUDA graphs).
            memory_budget (float): `torch._functorch.config.activation_memory_budget` while the blocks
                compile, in (0, 1]; 1 saves every intermediate the backward reads.
        """
        # Static shapes: a training run has one batch shape (and at most a smaller last batch); dynamic-shape
        # graphs hit an inductor backward bug (torch 2.11, "shape ... is invalid") when sizes change.
        compiled = [
            torch.compile(
                cast(CausalBlock, block).routed_update,
                dynamic=False,
                mode="reduce-overhead" if cuda_graphs else None,
            )
            for block in self.blocks
        ]
        self.full_batch_blocks = (
            compiled if memory_budget >= 1.0 else [with_memory_budget(f, memory_budget) for f in compiled]
        )

    def use_eager_blocks(self) -> None:
        """Run full-batch passes through the blocks as they are, uncompiled."""
        self.full_batch_blocks = [cast(CausalBlock, block).routed_update for block in self.blocks]

    def reset_parameters(self) -> None:
        """Draw the routers' weights afresh, set their output bias to `init_bias`, and clear the utility sums."""
        for router in self.routers:
            router = cast(nn.Sequential, router)
            for module in router:
                if isinstance(module, nn.LayerNorm | nn.Linear):
                    module.reset_parameters()
            nn.init.constant_(cast(nn.Linear, router[-1]).bias, self.init_bias)
        self.reset_utility()

    def reset_utility(self) -> None:
        """Clear the running utility sums that `get_utility` averages."""
        self.utility_sum.zero_()
        self.utility_count.zero_()

    def get_utility(self) -> torch.Tensor:
        """Mean utility per block over the routed samples seen since the last `reset_utility()`.

        Returns:
            torch.Tensor: the mean utility of each block, shape (n_blocks,).
        """
        return self.utility_sum / self.utility_count.clamp_min(1)

    def utility(self, index: int, h: torch.Tensor) -> torch.Tensor:
        """The utility u_b of block b per sample, from the [CLS] state entering it.

        Args:
            index (int): the block's index b; block 0 has no router and its utility is 1.
            h (torch.Tensor): the token states entering the block, shape (B, T, d).

        Returns:
            torch.Tensor: u_b in (0, 1), shape (B,).
        """
        if index == 0:
            return h.new_ones(h.shape[0])
        return torch.sigmoid(self.routers[index - 1](h[:, 0])).squeeze(-1)

    def forward(
        self,
        h: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        bias: torch.Tensor,
        dense: bool = False,
        weight_rows: torch.Tensor | None = None,
        prior_rows: torch.Tensor | None = None,
        kl_stride: int = 1,
    ) -> RoutedPass:
        """Run the stack of blocks under the routers.

        Training: straight-through switches over the full batch. Inference: real skipping unless `dense`.
        `weight_rows` asks every block for the explicit attention of those query rows, or with `prior_rows` for
        their kl_causal on every `kl_stride`-th sample (not while skipping: a skipped sample has no attention to
        report). Routed (not dense) passes add their utilities to the sums `get_utility` averages.

        Args:
            h (torch.Tensor): token states after message passing, shape (B, T, d).
            cos (torch.Tensor): RoPE cosines per token, shape (T, d_h / 2).
            sin (torch.Tensor): RoPE sines per token, shape (T, d_h / 2).
            bias (torch.Tensor): the padded attention bias, shape (T, T').
            dense (bool): run every block for every sample.
            weight_rows (torch.Tensor | None): token indices of the R query rows whose attention to report.
            prior_rows (torch.Tensor | None): the causal prior's rows for them, shape (R, F): report the KL.
            kl_stride (int): estimate the KL on every `kl_stride`-th sample only.

        Returns:
            RoutedPass: the final states, the utilities, the routes applied and what was asked for.

        Raises:
            ValueError: `weight_rows` on a skipping pass (eval mode without `dense`).
        """
        skipping = not dense and not self.training
        if skipping and weight_rows is not None:
            raise ValueError("attention weights come from the dense pass: call with dense=True")
        utilities: list[torch.Tensor] = []
        routes: list[torch.Tensor] = []
        attentions: list[torch.Tensor] = []
        kl_terms: list[torch.Tensor] = []
        for index, (block, full_batch_block) in enumerate(
            zip(self.blocks, self.full_batch_blocks, strict=True)
        ):
            u = self.utility(index, h)
            utilities.append(u)
            if skipping:
                route = (u > self.threshold).to(u.dtype)
                active = torch.nonzero(route, as_tuple=True)[0]
                if active.numel():
                    delta, _ = block(h.index_select(0, active), cos, sin, bias)
                    h = h.index_add(0, active, delta.to(h.dtype))
            else:
                # Dense: every block on. Training: straight-through switch, forward 0/1, gradient of u.
                route = torch.ones_like(u) if dense else (u > self.threshold).to(u.dtype) + (u - u.detach())
                h, extra = full_batch_block(h, route, cos, sin, bias, weight_rows, prior_rows, kl_stride)
                if extra is not None:
                    (kl_terms if prior_rows is not None else attentions).append(extra)
            routes.append(route.detach())
        stacked = torch.stack(utilities, dim=1)
        if not dense:
            # Exp-4 reports the utility of routed passes only; a dense pass (made for attention) is not one.
            with torch.no_grad():
                self.utility_sum += stacked.detach().sum(dim=0)
                self.utility_count += stacked.shape[0]
        return RoutedPass(
            hidden=h,
            utilities=stacked,
            routes=torch.stack(routes, dim=1),
            attentions=attentions,
            kl_terms=kl_terms,
        )
