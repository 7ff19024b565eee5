"""The predictor's training objective (docs/design.md §2.7) and the annealed weight of its V-REx term; the
structure terms live in model/structure/equations.py.

L = CE(y) + λ_causal·(KL_attn + w_t·V-REx) + λ_geometric·Dirichlet(h; A) + λ_reg·utility_cost·cost(u)
    + latent_supervision·CE_latent(y) + latent_compactness·S_within(z) / S_total(z)

and, in the structure phase, λ_causal·L_sem + λ_reg·(sparsity·‖A‖₁ + α·h(A) + ρ/2·h(A)²). Only the structure
phase writes into the lattice; `w_t` is the invariance weight, annealed up after a warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.config import TrainConfig
from model.nn.readout import group_risk_variance
from model.nn.transformer import ModelOutput
from model.structure.graph_ops import aggregate_parents


def dirichlet_energy(
    states: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor
) -> torch.Tensor:
    """Normalised Dirichlet energy Σ_(i→j) A_ij ‖h_i − h_j‖² / (Σ A_ij · d) over the lattice's edges, averaged
    over the batch. `states` (B, F, d) are layer-normalised, so the value is comparable across models.

    Expanded as Σ A_ij (‖h_i‖² + ‖h_j‖²) − 2 Σ_j ⟨h_j, Σ_i A_ij h_i⟩, the last sum one sparse product over the
    batch (`aggregate_parents`): the work and memory are O(B·F·d + E), never a (B, E, d) gather of both ends
    of every edge. With no edge the energy is 0."""
    if edge_index.shape[1] == 0:
        return states.new_zeros(())
    nodes, width = states.shape[1:]
    source, target = edge_index
    states, edge_weight = states.float(), edge_weight.float()
    squared = states.pow(2).sum(-1)  # (B, F)
    degree = torch.zeros(nodes, dtype=states.dtype, device=states.device)
    degree = degree.index_add(0, source, edge_weight).index_add(0, target, edge_weight)
    cross = (states * aggregate_parents(states, edge_index, edge_weight)).sum(dim=(1, 2))  # (B,)
    energy = squared @ degree - 2 * cross
    return (energy / (edge_weight.sum().clamp_min(1e-8) * width)).mean()


def latent_scatter_ratio(z: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """How spread out each class is in z, relative to how spread out z is: within-class over total scatter.

    0 when every class sits on one point, 1 when the class means coincide. Scale-free, so it cannot be lowered by
    shrinking z, and the silhouette of z by label (Exp-2) rises as it falls.

    Args:
        z (torch.Tensor): the latent causal variables, shape (B, d_latent).
        y (torch.Tensor): class indices, shape (B,).
        n_classes (int): C.

    Returns:
        torch.Tensor: the ratio, a scalar in [0, 1].
    """
    z = z.float()
    members = F.one_hot(y, n_classes).to(z.dtype)  # (B, C)
    means = (members.T @ z) / members.sum(dim=0).clamp_min(1.0)[:, None]  # (C, d_latent)
    within = (z - members @ means).square().sum()
    total = (z - z.mean(dim=0)).square().sum()
    return within / total.clamp_min(1e-12)


@dataclass
class LossTerms:
    total: torch.Tensor
    terms: dict[str, torch.Tensor]


def predictor_loss(
    output: ModelOutput,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    n_groups: int,
    edge_index: torch.Tensor,
    edge_weight: torch.Tensor,
    config: TrainConfig,
    invariance_weight: float,
    regulariser_stride: int = 1,
) -> LossTerms:
    """The predictor's loss for one batch; the KL term is the mean of the blocks' `output.kl_terms` (none when
    the forward pass computed none), the Dirichlet term is estimated on every `regulariser_stride`-th sample."""
    lam = config.lambdas
    zero = output.z.new_zeros(())
    terms: dict[str, torch.Tensor] = {}
    if output.logits is not None and y is not None:
        per_sample = F.cross_entropy(output.logits.float(), y, reduction="none")
        terms["ce"] = per_sample.mean()
        terms["vrex"] = group_risk_variance(per_sample, groups, n_groups) if groups is not None else zero
        assert output.latent_logits is not None
        terms["ce_latent"] = F.cross_entropy(output.latent_logits.float(), y)
        # Off (weight 0), the ratio is logged only: no branch of the graph, so the training is the one without it.
        with torch.set_grad_enabled(config.latent_compactness > 0 and torch.is_grad_enabled()):
            terms["latent_scatter"] = latent_scatter_ratio(output.z, y, output.latent_logits.shape[1])
    else:
        terms["ce"], terms["vrex"], terms["ce_latent"], terms["latent_scatter"] = zero, zero, zero, zero
    terms["kl_attn"] = torch.stack(output.kl_terms).mean() if output.kl_terms else zero
    terms["dirichlet"] = dirichlet_energy(
        output.feature_states[::regulariser_stride], edge_index, edge_weight
    )
    # Block 0 always runs (see MetaUtilityLayer), so only the routed blocks carry a compute cost.
    terms["compute_cost"] = output.utilities[:, 1:].mean() if output.utilities.shape[1] > 1 else zero
    total = (
        terms["ce"]
        + config.latent_supervision * terms["ce_latent"]
        + lam.causal * (terms["kl_attn"] + invariance_weight * terms["vrex"])
        + lam.geometric * terms["dirichlet"]
        + lam.reg * config.utility_cost * terms["compute_cost"]
    )
    if config.latent_compactness > 0:
        total = total + config.latent_compactness * terms["latent_scatter"]
    return LossTerms(total=total, terms=terms)


def regulariser_stride(batch: int, samples: int) -> int:
    """The stride that leaves at most `samples` of a batch's rows for the KL and Dirichlet estimates: at width
    they cost B x heads x rows x T per block, and a strided subset of a shuffled batch estimates the same mean."""
    return -(-batch // samples)


def invariance_weight(config: TrainConfig, epoch: int) -> float:
    """The V-REx weight at `epoch` (1-based): 0 during the warm-up, then a linear ramp up to `invariance`."""
    progress = (epoch - config.invariance_warmup_epochs) / max(config.invariance_ramp_epochs, 1)
    return config.invariance * min(max(progress, 0.0), 1.0)
