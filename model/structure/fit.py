"""Fitting the structural-equation model and its lattice (docs/design.md §2.2): the structure phase.

The phase runs before the predictor's epochs: rounds of Adam steps under the augmented-Lagrangian acyclicity
schedule (model/structure/acyclicity.py) until the thresholded graph is a settled DAG, then any cycle left is
broken at its least probable edge. Also the default logger of each round's record.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

import torch

from model.config import StructureConfig
from model.errors import TrainingDivergedError
from model.structure.acyclicity import AugmentedLagrangian, SpectralRadius
from model.structure.candidates import candidate_pairs
from model.structure.edge_decisions import decide_undecided_edges, reverse_edges
from model.structure.equations import StructuralEquationModel, StructureFit
from model.structure.graph_ops import cycle_breaking_edges, is_acyclic
from model.structure.label_edges import search_label_edges

__all__ = ["Ranks", "break_cycles", "fit_structure", "log_structure_round"]

logger = logging.getLogger("causal_lattice.train")

# The logit (before the temperature) of an edge outside the candidate pairs: probability 9e-14, so a mask
# sample (logistic noise above 30) includes it about once in 10¹³ draws.
_EXCLUDED_LOGIT = -30.0


class Ranks(Protocol):
    """A data-parallel training's ranks: a rank's share of a batch, the ranks' mean of gradients and values.

    The implementation is model/training/data_parallel.py's `DataParallel`.
    """

    def shard(self, index: torch.Tensor, slices: int = 1) -> torch.Tensor:
        """This rank's rows of a global batch of `slices` equal slices."""
        ...

    def average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Each gradient replaced by its mean over the ranks."""
        ...

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The ranks' mean of `values`."""
        ...


def break_cycles(sem: StructuralEquationModel, threshold: float) -> list[tuple[int, int, float]]:
    """Remove the edges that keep the thresholded lattice cyclic, and return them with their probabilities.

    The edges are those of `model.structure.graph_ops.cycle_breaking_edges`; their logits are set to -10·τ
    (probability 4.5e-5). Only needed when the schedule ran out of rounds.

    Args:
        sem (StructuralEquationModel): the fitted model; its edge logits are changed in place.
        threshold (float): the lattice's edge threshold.

    Returns:
        list[tuple[int, int, float]]: the removed edges as (source, target, probability before removal).
    """
    with torch.no_grad():
        adjacency = sem.adjacency()
        dropped = cycle_breaking_edges(adjacency, adjacency >= threshold)
        sources, targets = torch.nonzero(dropped, as_tuple=True)
        # One gather and one copy to the host: an item per edge synchronises per edge (minutes at F = 4,096).
        removed = list(
            zip(sources.tolist(), targets.tolist(), adjacency[sources, targets].tolist(), strict=True)
        )
        sem.edge_logits[dropped] = -10.0 * sem.temperature
    return removed


def _exclude_non_candidates(
    sem: StructuralEquationModel, x: torch.Tensor, per_feature: int | None
) -> torch.Tensor | None:
    """Set the feature pairs outside `candidate_pairs(x, per_feature)` to probability ~0.

    Returns:
        torch.Tensor | None: those pairs as an (N, N) mask (the label's edges stay candidates), or None when every
        pair is a candidate.
    """
    if per_feature is None or per_feature >= sem.n_features - 1:
        return None
    excluded = torch.zeros(sem.n_nodes, sem.n_nodes, dtype=torch.bool, device=x.device)
    excluded[: sem.n_features, : sem.n_features] = ~candidate_pairs(x, per_feature)
    excluded.fill_diagonal_(False)
    with torch.no_grad():
        sem.edge_logits.masked_fill_(excluded, _EXCLUDED_LOGIT * sem.temperature)
    return excluded


def fit_structure(
    sem: StructuralEquationModel,
    x: torch.Tensor,
    y: torch.Tensor | None,
    groups: torch.Tensor | None,
    config: StructureConfig,
    threshold: float,
    generator: torch.Generator,
    progress: Callable[[dict[str, float]], None] | None = None,
    ranks: Ranks | None = None,
) -> StructureFit:
    """Fit the structural equations and the lattice until the thresholded graph is a DAG.

    With `candidate_parents`, only the feature pairs of `candidate_pairs` can become edges (the others start at
    probability ~0 and their logits get no gradient). Warm-up rounds fit the mechanisms on a dense lattice;
    then every round is `steps_per_round` Adam steps on `NLL + sparsity·ΣA + shift_sparsity·shifts + α·h +
    ρ/2·h²`, after which the augmented Lagrangian is updated. Stops once `min_rounds` are done and, for `patience` rounds, the thresholded graph stayed the same
    DAG, no edge probability moved by more than `settle_tolerance` and the round's mean NLL fell by at most
    `settle_nll_tolerance` of the last round's; after `max_rounds` any cycle left is broken at its least probable
    edge (reported).
    With a label, a score search then revises the label's edges (model/structure/label_edges.py).

    Args:
        sem (StructuralEquationModel): the model to fit, in place; its edges start at `init_probability`.
        x (torch.Tensor): standardised training features, shape (N, F).
        y (torch.Tensor | None): class indices, shape (N,); None without a label column.
        groups (torch.Tensor | None): cohort codes, shape (N,).
        config (StructureConfig): the schedule and its weights (`train.structure`).
        threshold (float): the lattice's edge threshold.
        generator (torch.Generator): the CPU generator rows are drawn from (it also seeds the mask noise).
        progress (Callable[[dict[str, float]], None] | None): called with each round's record.
        ranks (Ranks | None): this process's place among a data-parallel training's ranks (None: one device):
            each rank scores its rows of every mask slice; gradients and the NLL are averaged over the ranks.

    Returns:
        StructureFit: steps, rounds, the final h, the removed and revised edges, the history and gradient norms.

    Raises:
        TrainingDivergedError: the NLL became non-finite.
    """
    sem.initialise_edges(config.init_probability)
    excluded = _exclude_non_candidates(sem, x, config.candidate_parents)
    # Row draws stay on the CPU generator; mask noise uses a generator on the data's device, seeded from it.
    mask_generator = torch.Generator(device=x.device)
    mask_generator.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
    groups_of_parameters: list[dict[str, Any]] = [
        {"params": list(sem.mechanism_parameters().values())},
        {"params": [sem.edge_logits], "lr": config.edge_lr},
    ]
    optimizer = torch.optim.Adam(groups_of_parameters, lr=config.lr)
    lagrangian = AugmentedLagrangian(rho=config.rho_init)
    spectral_radius = SpectralRadius(sem.n_nodes, config.power_iterations, x.device)
    n = x.shape[0]
    samples = config.mask_samples
    batch_size = max(samples, min(config.batch_size, n) // samples * samples)
    fit = StructureFit(steps=0, rounds=0, acyclicity=math.inf)
    names = [name for name, _ in sem.named_parameters()]
    fit.grad_norms = {name: [] for name in names}
    stable_rounds = 0
    previous_nll = math.inf
    previous_adjacency = sem.adjacency().detach().clone()
    previous_linked = previous_adjacency >= threshold
    for rounds in range(1, config.max_rounds + 1):
        warming_up = rounds <= config.warmup_rounds
        sem.edge_logits.requires_grad_(not warming_up)
        nll_sum = torch.zeros((), device=x.device)
        grad_sums = torch.zeros(len(names), device=x.device)
        for _ in range(config.steps_per_round):
            index = torch.randint(n, (batch_size,), generator=generator).to(x.device)
            if ranks is not None:
                index = ranks.shard(index, samples)
            score = sem.score(
                x[index],
                None if y is None else y[index],
                None if groups is None else groups[index],
                sem.sample_masks(samples, mask_generator),
            )
            loss = score.nll + config.shift_sparsity * score.mechanism_shift
            if not warming_up:
                adjacency = sem.adjacency()
                loss = loss + config.sparsity * adjacency.sum()
                if config.acyclicity:
                    loss = loss + lagrangian.penalty(spectral_radius(adjacency))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if ranks is not None:
                ranks.average_gradients(list(sem.parameters()))
            if excluded is not None and sem.edge_logits.grad is not None:
                # Adam would turn even the tiny sparsity gradient of an excluded edge into full-size steps.
                sem.edge_logits.grad.masked_fill_(excluded, 0.0)
            grad_sums += torch.stack(
                [p.grad.norm() if p.grad is not None else grad_sums.new_zeros(()) for p in sem.parameters()]
            )
            # Early rounds of a dense lattice have large h: clip so Adam's moments stay finite.
            torch.nn.utils.clip_grad_norm_(sem.parameters(), config.grad_clip)
            optimizer.step()
            nll_sum += score.nll.detach()
        if ranks is not None:
            nll_sum = ranks.mean(nll_sum)
        fit.steps += config.steps_per_round
        fit.rounds = rounds
        for name, value in zip(names, (grad_sums / config.steps_per_round).tolist(), strict=True):
            fit.grad_norms[name].append(value)
        if not math.isfinite(float(nll_sum)):
            raise TrainingDivergedError(
                f"the structural equations' NLL became non-finite in structure round {rounds}: check the "
                f"features for NaN/inf or lower train.structure.lr (now {config.lr})"
            )
        with torch.no_grad():
            adjacency = sem.adjacency()
            fit.acyclicity = float(spectral_radius(adjacency))
            linked = adjacency >= threshold
            is_dag = is_acyclic(linked)
            moved = float((adjacency - previous_adjacency).abs().max())
        if not warming_up:
            lagrangian.update(fit.acyclicity, is_dag, config)
        nll = float(nll_sum) / config.steps_per_round
        # The NLL's fall this round, as a fraction of the last round's (a rise is negative: no fall). The NLL is a
        # sum of Gaussian log-densities and can cross zero, hence the floor on the divisor.
        nll_fall = (
            (previous_nll - nll) / max(abs(previous_nll), 1e-12) if math.isfinite(previous_nll) else math.inf
        )
        settled = (
            is_dag
            and not warming_up
            and torch.equal(linked, previous_linked)
            and moved <= config.settle_tolerance
            and nll_fall <= config.settle_nll_tolerance
        )
        stable_rounds = stable_rounds + 1 if settled else 0
        previous_adjacency, previous_linked, previous_nll = adjacency, linked, nll
        record = {
            "round": float(rounds),
            "nll": nll,
            "acyclicity": fit.acyclicity,
            "edges": float(linked.sum()),
            "is_dag": float(is_dag),
            "rho": lagrangian.rho,
            "moved": moved,
        }
        if math.isfinite(nll_fall):  # from the second round on
            record["nll_fall"] = nll_fall
        fit.history.append(record)
        if progress is not None:
            progress(record)
        if rounds >= config.min_rounds and stable_rounds >= config.patience:
            break
    if config.acyclicity:
        fit.removed_cycle_edges = break_cycles(sem, threshold)
    fit.decided_edges = decide_undecided_edges(sem, x, y, groups, config, threshold, generator.initial_seed())
    fit.reversed_edges = reverse_edges(sem, x, y, groups, config, threshold, generator.initial_seed())
    if y is not None:
        changes = search_label_edges(sem, x, y, groups, config, threshold, generator)
        fit.reversed_label_edges, fit.added_label_parents = changes.reversed, changes.added
        fit.label_parents_made_children = changes.made_children
        for child, gain in changes.reversed:
            logger.info(
                "label-edge search: feature %d is the label's parent, not child (+%.3f nats)", child, gain
            )
        for parent, gain in changes.added:
            logger.info(
                "label-edge search: feature %d added as the label's parent (+%.3f nats)", parent, gain
            )
        for child, gain in changes.made_children:
            logger.info(
                "label-edge search: feature %d is the label's child, not parent (+%.3f nats)", child, gain
            )
    return fit


def log_structure_round(record: dict[str, float]) -> None:
    """Log one round's record as one line (the default `progress` of a training).

    Args:
        record (dict[str, float]): the round's record from `fit_structure`.
    """
    fall = f"{100 * record['nll_fall']:.2f}%" if "nll_fall" in record else "n/a"
    logger.info(
        "structure round %d: nll=%.3f (fell %s) h=%.2e edges=%d dag=%s rho=%.0e moved=%.3f",
        record["round"],
        record["nll"],
        fall,
        record["acyclicity"],
        record["edges"],
        bool(record["is_dag"]),
        record["rho"],
        record["moved"],
    )
