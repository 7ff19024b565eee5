"""Memory-lean autograd functions of the structural equations (model/structure/equations.py).

At width the structure phase's largest tensors are the per-sample masks (S, N, N) and the gated first-layer weight
(S, |φ|F, F). Autograd keeps several of each for the backward pass (the gate alone asked for 35.8 GiB at
F = 20,000 on an 80 GB card, docs/science.md). These functions compute the same values and gradients with the
same operations, holding one mask tensor and one column block of the gated weight.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["GatedBasisProduct", "StraightThroughBernoulli"]

# Elements of one column block of the gated weight (S, K, columns) in `GatedBasisProduct`: 256 MiB in float32.
# The whole of it, S·6F·F, is what ran out of memory at F = 20,000 (35.8 GiB at once, docs/science.md).
_GATED_BLOCK_ELEMENTS = 2**26


class StraightThroughBernoulli(torch.autograd.Function):
    """Masks `hard + soft - soft.detach()` of `StructuralEquationModel.sample_masks`, holding one (S, N, N) tensor.

    `soft = sigmoid(logits + log u - log(1 - u))` and `hard = soft > 0.5`. Autograd would keep `soft`, `hard`
    and their sums alive (five S·N² tensors); this keeps the uniform draws and recomputes `soft` in the backward
    pass, with the same operations in the same order, so values and gradients are those of the plain expression
    bit for bit.
    """

    @staticmethod
    def _soft(logits: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
        soft = uniform.log()
        soft += logits  # (logits + log u): addition is commutative in floating point
        soft -= (-uniform).log1p()
        return soft.sigmoid_()

    @staticmethod
    def forward(
        ctx: Any, logits: torch.Tensor, uniform: torch.Tensor, off_diagonal: torch.Tensor
    ) -> torch.Tensor:
        """The masks.

        Args:
            ctx (Any): autograd's context.
            logits (torch.Tensor): edge logits over the temperature, shape (N, N).
            uniform (torch.Tensor): uniform draws in (0, 1), shape (S, N, N); kept for the backward pass.
            off_diagonal (torch.Tensor): False on the diagonal, shape (N, N).

        Returns:
            torch.Tensor: 0/1 masks (to float rounding), shape (S, N, N).
        """
        soft = StraightThroughBernoulli._soft(logits, uniform)
        masks = (soft > 0.5).to(soft.dtype)
        masks += soft
        masks -= soft
        masks *= off_diagonal
        ctx.save_for_backward(logits, uniform, off_diagonal)
        return masks

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None]:
        """The logits' gradient, the relaxation's, from `soft` recomputed.

        Args:
            ctx (Any): autograd's context.
            grad (torch.Tensor): the masks' gradient, shape (S, N, N).

        Returns:
            tuple[torch.Tensor | None, None, None]: the logits' gradient (N, N); none for the draws and diagonal.
        """
        logits, uniform, off_diagonal = ctx.saved_tensors
        soft = StraightThroughBernoulli._soft(logits, uniform)
        # sigmoid's own backward, grad·(1 - σ)·σ, on the gradient that reaches `soft`
        grad_logits = (grad * off_diagonal) * (1 - soft) * soft
        return grad_logits.sum(0), None, None


class GatedBasisProduct(torch.autograd.Function):
    """`bmm(basis, weight ⊙ masks[:, basis_node])`, one column block of the gated weight at a time.

    Shapes: basis (S, B/S, K), weight (K, O), masks (S, N, O) with `basis_node` (K,) naming each basis row's
    node; output (S, B/S, O). The gated weight is S·K·O (S·6F·F, the structure phase's largest tensor); built
    and kept whole it ran out of memory at F = 20,000. Blocks of output columns are built, used and freed in
    the forward pass and rebuilt in the backward, so memory holds one block. With one block (K·O·S up to 2²⁶
    elements: F ≤ about 1,600 at four mask samples) the operations and their order are autograd's own.
    """

    @staticmethod
    def _blocks(basis: torch.Tensor, weight: torch.Tensor) -> list[slice]:
        columns = weight.shape[1]
        width = max(1, _GATED_BLOCK_ELEMENTS // (basis.shape[0] * weight.shape[0]))
        return [slice(start, min(start + width, columns)) for start in range(0, columns, width)]

    @staticmethod
    def forward(
        ctx: Any, basis: torch.Tensor, weight: torch.Tensor, masks: torch.Tensor, basis_node: torch.Tensor
    ) -> torch.Tensor:
        """The gated product.

        Args:
            ctx (Any): autograd's context.
            basis (torch.Tensor): basis values of each mask sample's rows, shape (S, B/S, K).
            weight (torch.Tensor): first-layer weights, shape (K, O).
            masks (torch.Tensor): each sample's mask over the outputs' columns, shape (S, N, O).
            basis_node (torch.Tensor): each basis row's node, int64, shape (K,).

        Returns:
            torch.Tensor: shape (S, B/S, O).
        """
        blocks = GatedBasisProduct._blocks(basis, weight)
        ctx.save_for_backward(basis, weight, masks, basis_node)
        if len(blocks) == 1:
            return torch.bmm(basis, weight * masks[:, basis_node])
        out = basis.new_empty(basis.shape[0], basis.shape[1], weight.shape[1])
        for block in blocks:
            out[:, :, block] = torch.bmm(basis, weight[:, block] * masks[:, basis_node, block])
        return out

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None]:
        """Gradients of the basis, the weights and the masks, block by block.

        Args:
            ctx (Any): autograd's context.
            grad (torch.Tensor): the product's gradient, shape (S, B/S, O).

        Returns:
            tuple: the gradients of `basis`, `weight` and `masks` (None where not needed), none for `basis_node`.
        """
        basis, weight, masks, basis_node = ctx.saved_tensors
        need_basis, need_weight, need_masks = ctx.needs_input_grad[:3]
        grad_basis = torch.zeros_like(basis) if need_basis else None
        grad_weight = torch.empty_like(weight) if need_weight else None
        grad_masks = torch.zeros_like(masks) if need_masks else None
        for block in GatedBasisProduct._blocks(basis, weight):
            gate = masks[:, basis_node, block]
            grad_block = grad[:, :, block]
            if grad_basis is not None:
                grad_basis += grad_block.bmm((weight[:, block] * gate).transpose(1, 2))
            if grad_weight is None and grad_masks is None:
                continue
            grad_gated = basis.transpose(1, 2).bmm(grad_block)  # (S, K, block)
            if grad_weight is not None:
                grad_weight[:, block] = (grad_gated * gate).sum(0)
            if grad_masks is not None:
                grad_masks[:, :, block] = torch.zeros_like(masks[:, :, block]).index_add_(
                    1, basis_node, grad_gated * weight[:, block]
                )
        return grad_basis, grad_weight, grad_masks, None
