"""The training objective of SPEC §2.7.

L = CE(y) + λ_causal·(KL_attn + L_sem + invariance·V-REx) + λ_geometric·Dirichlet(h; A)
    + λ_reg·(sparsity·‖A‖₁/F + acyclicity·h(A) + utility_cost·cost(u))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.attention import attention_kl
from model.config import TrainConfig
from model.lattice import notears_acyclicity
from model.transformer import ModelOutput


def dirichlet_energy(states: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    """Normalised Dirichlet energy Σ_ij A_ij ‖h_i − h_j‖² / (Σ A_ij · d), averaged over the batch.

    states (B, F, d) are layer-normalised, so the value is comparable across models. The adjacency is
    detached: this term smooths representations over the lattice, it does not get to reshape the lattice.
    """
    weights = adjacency.detach()
    squared = torch.cdist(states, states).pow(2)  # (B, F, F)
    energy = (squared * weights).sum(dim=(-2, -1)) / (weights.sum().clamp_min(1e-8) * states.shape[-1])
    return energy.mean()


def group_risk_variance(per_sample_loss: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """V-REx: the variance of the mean task risk across the groups present in the batch."""
    present = torch.unique(groups)
    if present.numel() < 2:
        return per_sample_loss.new_zeros(())
    risks = torch.stack([per_sample_loss[groups == g].mean() for g in present])
    return risks.var(unbiased=False)


@dataclass
class LossTerms:
    total: torch.Tensor
    terms: dict[str, torch.Tensor]


def causal_lattice_loss(
    output: ModelOutput,
    x: torch.Tensor,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    prior: torch.Tensor,
    config: TrainConfig,
) -> LossTerms:
    lam = config.lambdas
    adjacency = output.adjacency
    terms: dict[str, torch.Tensor] = {}
    zero = x.new_zeros(())
    if output.logits is not None and y is not None:
        per_sample = F.cross_entropy(output.logits, y, reduction="none")
        terms["ce"] = per_sample.mean()
        terms["vrex"] = group_risk_variance(per_sample, groups) if groups is not None else zero
    else:
        terms["ce"], terms["vrex"] = zero, zero
    terms["kl_attn"] = (
        torch.stack([attention_kl(a, prior) for a in output.attentions]).mean() if output.attentions else zero
    )
    terms["sem"] = F.mse_loss(output.reconstruction, x)
    terms["dirichlet"] = dirichlet_energy(output.feature_states, adjacency)
    terms["sparsity"] = adjacency.abs().sum() / adjacency.shape[0]
    terms["acyclicity"] = notears_acyclicity(adjacency)
    # Block 0 always runs (see MetaUtilityLayer), so only the routed blocks carry a compute cost.
    terms["compute_cost"] = output.utilities[:, 1:].mean() if output.utilities.shape[1] > 1 else zero
    total = (
        terms["ce"]
        + lam.causal * (terms["kl_attn"] + terms["sem"] + config.invariance * terms["vrex"])
        + lam.geometric * terms["dirichlet"]
        + lam.reg
        * (
            config.sparsity * terms["sparsity"]
            + config.acyclicity * terms["acyclicity"]
            + config.utility_cost * terms["compute_cost"]
        )
    )
    return LossTerms(total=total, terms=terms)
