"""Structure learning for the lattice (docs/design.md §2.2): the structural-equation model and its score.

A causal additive model with per-target input masks, edge-inclusion probabilities `A = sigmoid(Θ/τ)` and
cohorts as environments (why: docs/science.md, "Design in one page" and "What did not work, and why"). The
fitting loop is fit.py, the acyclicity term acyclicity.py, the memory-lean autograd functions kernels.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from model.structure.kernels import GatedBasisProduct, StraightThroughBernoulli

__all__ = [
    "BASIS_CENTRES",
    "N_BASIS",
    "NodeMechanisms",
    "StructuralEquationModel",
    "StructureFit",
    "StructureScore",
    "additive_basis",
]

# The centres of the basis's Gaussian bumps, in standard deviations of a standardised variable.
BASIS_CENTRES = (-2.0, -1.0, 0.0, 1.0, 2.0)
# Basis functions per parent: the value itself and one bump per centre.
N_BASIS = len(BASIS_CENTRES) + 1


def additive_basis(x: torch.Tensor) -> torch.Tensor:
    """Each value and Gaussian bumps at -2..2: a basis for smooth 1-D functions of a standardised variable.

    Args:
        x (torch.Tensor): standardised values, shape (B, F).

    Returns:
        torch.Tensor: φ(x), shape (B, F, N_BASIS) with N_BASIS = 6; the value first, then the bumps.
    """
    centres = torch.tensor(BASIS_CENTRES, dtype=x.dtype, device=x.device)
    bumps = torch.exp(-0.5 * (x.unsqueeze(-1) - centres) ** 2)
    return torch.cat([x.unsqueeze(-1), bumps], dim=-1)


@dataclass
class StructureScore:
    """Per-sample negative log-likelihood of the structural equations and the regularisers.

    Attributes:
        nll (torch.Tensor): the sum over nodes of the mean per-sample NLL (nats), a scalar.
        node_nll (torch.Tensor): each node's mean NLL, shape (N,) (or the scored nodes', features first).
        mechanism_shift (torch.Tensor): the L1 norm of the per-cohort mechanism changes, a scalar.
        node_shift (torch.Tensor): each node's share of `mechanism_shift`, shaped like `node_nll` (the label's: 0).
    """

    nll: torch.Tensor
    node_nll: torch.Tensor
    mechanism_shift: torch.Tensor
    node_shift: torch.Tensor


@dataclass
class NodeMechanisms:
    """The mechanisms of some nodes, as tensors of their own (`StructuralEquationModel.node_mechanisms`).

    Each node's NLL depends on its own parameters only (a column of `weight`, an entry of `bias`, ...), so these
    nodes can be refitted and scored alone, at a cost that does not grow with the others (label_edges.py).

    Attributes:
        features (torch.Tensor): the features' node indices, int64, shape (k,).
        label (bool): whether the label's mechanism is included.
        parameters (dict[str, torch.Tensor]): the slices, by `mechanism_parameters` name.
    """

    features: torch.Tensor
    label: bool
    parameters: dict[str, torch.Tensor]


class StructuralEquationModel(nn.Module):
    """Mechanisms for N nodes: the F features and, with `n_classes > 0`, the label as node F.

    `edge_logits[i, j]` is the logit (before the temperature) of edge i -> j. Each node j has its own mechanism
    over its masked parents, `x̂_j = f_j(M[:, j] ⊙ x) = Σ_i M_ij Σ_k w_ijk φ_k(x_i) + b_j`: a first layer of its
    own (`w_·j`) over a fixed basis φ of each parent (the value and five Gaussian bumps), i.e. a causal additive
    model. All targets are evaluated at once as one matrix product over the basis, so the cost is B·F·|φ|·F with
    no per-sample F×F tensor. Features are Gaussian with a learned noise scale (the score is invariant to each
    feature's scale); the label's mechanism is an additive logistic classifier.

    Cohorts are environments. Every feature mechanism has a per-cohort shift and a signed per-cohort scale, and
    the label's effect on each of its children may differ per cohort; all are centred over cohorts and
    L1-penalised (sparse mechanism shifts). The label's own mechanism gets only a per-cohort base rate: how the
    label's causes act is the same everywhere. Explaining data against the causal direction needs more shifts
    (or a cohort-dependent label mechanism, which is not available), so the score prefers the causal
    orientation.

    Args:
        n_features (int): the number of features F.
        n_classes (int): the label's number of classes C; 0 for no label node.
        n_groups (int): the number of cohorts.
        temperature (float): τ in `A = sigmoid(Θ/τ)`.

    Shapes:
        - **input:** standardised features `x` (B, F), labels `y` (B,), cohort codes `groups` (B,), masks
          (N, N) or (S, N, N).
        - **output:** feature means (B, F) and label logits (B, C) from `mechanisms`; a `StructureScore` from
          `score`.
    """

    basis_node: torch.Tensor
    output_node: torch.Tensor
    off_diagonal: torch.Tensor

    def __init__(
        self, n_features: int, n_classes: int = 0, n_groups: int = 1, temperature: float = 1.0
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.n_classes = n_classes
        self.n_groups = n_groups
        self.temperature = temperature
        self.n_nodes = n_features + (1 if n_classes else 0)
        n_outputs = n_features + n_classes  # feature means, then the label's logits
        self.edge_logits = nn.Parameter(torch.empty(self.n_nodes, self.n_nodes))
        # Rows: every feature's basis columns, then the label's one-hot columns (how the label enters its
        # children); columns: the outputs.
        self.weight = nn.Parameter(torch.empty(n_features * N_BASIS + n_classes, n_outputs))
        self.bias = nn.Parameter(torch.empty(n_outputs))
        self.log_noise = nn.Parameter(torch.empty(n_features))
        self.group_shift = nn.Parameter(torch.empty(n_groups, n_features))
        self.group_scale = nn.Parameter(torch.empty(n_groups, n_features))
        self.label_effect_shift = nn.Parameter(torch.empty(n_groups, max(n_classes, 1), n_features))
        self.label_group_bias = nn.Parameter(torch.empty(n_groups, max(n_classes, 1)))
        label = torch.full((n_classes,), n_features)
        self.register_buffer(
            "basis_node",
            torch.cat([torch.arange(n_features).repeat_interleave(N_BASIS), label]),
            persistent=False,
        )
        self.register_buffer("output_node", torch.cat([torch.arange(n_features), label]), persistent=False)
        self.register_buffer("off_diagonal", ~torch.eye(self.n_nodes, dtype=torch.bool), persistent=False)
        self.reset_parameters()

    @property
    def label_node(self) -> int | None:
        """The label's node index (F), or None without a label node."""
        return self.n_features if self.n_classes else None

    def initialise_edges(self, probability: float) -> None:
        """Every edge starts at `probability` (plus a little noise that breaks ties).

        Args:
            probability (float): the initial edge-inclusion probability, in (0, 1).
        """
        logit = math.log(probability / (1 - probability)) * self.temperature
        with torch.no_grad():
            nn.init.normal_(self.edge_logits, mean=logit, std=0.01)

    def reset_parameters(self) -> None:
        """Edges at probability 0.5; every mechanism parameter zero (each feature predicted as 0, unit noise)."""
        self.initialise_edges(0.5)
        for parameter in self.mechanism_parameters().values():
            nn.init.zeros_(parameter)

    def mechanism_parameters(self) -> dict[str, nn.Parameter]:
        """Every parameter but the edge logits, by name: what is refitted for a fixed graph.

        Returns:
            dict[str, nn.Parameter]: the parameters by their `named_parameters` name.
        """
        return {name: p for name, p in self.named_parameters() if name != "edge_logits"}

    def _output_columns(self, features: torch.Tensor, label: bool) -> torch.Tensor:
        """The columns of `weight` and `bias` that hold the mechanisms of `features` (and the label's)."""
        labels = torch.arange(self.n_features, self.n_features + self.n_classes, device=features.device)
        return torch.cat([features, labels]) if label and self.n_classes else features

    def node_mechanisms(self, features: torch.Tensor, label: bool) -> NodeMechanisms:
        """Copies of the mechanisms of `features` (and of the label's), as new leaf tensors that require grad.

        Args:
            features (torch.Tensor): feature indices, int64, shape (k,).
            label (bool): include the label's mechanism (ignored without a label node).

        Returns:
            NodeMechanisms: the copies; training them leaves this model unchanged.
        """
        columns = self._output_columns(features, label)
        label = label and self.n_classes > 0
        slices = {
            "weight": self.weight[:, columns],
            "bias": self.bias[columns],
            "log_noise": self.log_noise[features],
            "group_shift": self.group_shift[:, features],
            "group_scale": self.group_scale[:, features],
            "label_effect_shift": self.label_effect_shift[:, :, features],
            "label_group_bias": self.label_group_bias if label else self.label_group_bias[:, :0],
        }
        return NodeMechanisms(
            features, label, {name: p.detach().clone().requires_grad_(True) for name, p in slices.items()}
        )

    def load_node_mechanisms(self, nodes: NodeMechanisms) -> None:
        """Write the mechanisms of `nodes` into this model.

        Args:
            nodes (NodeMechanisms): mechanisms from `node_mechanisms` (trained or not).
        """
        columns = self._output_columns(nodes.features, nodes.label)
        p = nodes.parameters
        with torch.no_grad():
            self.weight[:, columns] = p["weight"]
            self.bias[columns] = p["bias"]
            self.log_noise[nodes.features] = p["log_noise"]
            self.group_shift[:, nodes.features] = p["group_shift"]
            self.group_scale[:, nodes.features] = p["group_scale"]
            self.label_effect_shift[:, :, nodes.features] = p["label_effect_shift"]
            if nodes.label:
                self.label_group_bias.copy_(p["label_group_bias"])

    def adjacency(self) -> torch.Tensor:
        """Edge-inclusion probabilities `A = sigmoid(Θ/τ)` with a zero diagonal.

        Returns:
            torch.Tensor: A with A[i, j] the probability of edge i -> j, shape (N, N).
        """
        return torch.sigmoid(self.edge_logits / self.temperature) * self.off_diagonal

    def hard_mask(self, threshold: float = 0.5) -> torch.Tensor:
        """The thresholded lattice as a 0/1 mask (the graph the fitted mechanisms are evaluated with).

        Args:
            threshold (float): an edge is kept when its probability is at least this.

        Returns:
            torch.Tensor: the mask in the edge logits' dtype, shape (N, N).
        """
        return (self.adjacency() >= threshold).to(self.edge_logits.dtype)

    def sample_masks(self, samples: int, generator: torch.Generator) -> torch.Tensor:
        """Straight-through Bernoulli(A) samples: forward 0/1, gradient of the logistic relaxation.

        A sampled mask binds: a mechanism cannot rescale a small gate back up, so the L1 term on A really
        removes edges. The noise comes from `generator`, on the lattice's device (N² draws a step: no host round
        trip).

        Args:
            samples (int): the number of masks S.
            generator (torch.Generator): the noise's generator, on the lattice's device.

        Returns:
            torch.Tensor: masks, shape (S, N, N), with a zero diagonal.
        """
        logits = self.edge_logits / self.temperature
        uniform = torch.rand((samples, *logits.shape), generator=generator, device=generator.device)
        uniform.clamp_(1e-6, 1 - 1e-6)
        return StraightThroughBernoulli.apply(logits, uniform, self.off_diagonal)

    def mechanisms(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None,
        groups: torch.Tensor | None,
        masks: torch.Tensor,
        nodes: NodeMechanisms | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Feature means and label logits, each node from its masked parents only.

        Args:
            x (torch.Tensor): standardised features, shape (B, F).
            y (torch.Tensor | None): class indices, shape (B,); required with a label node.
            groups (torch.Tensor | None): cohort codes, shape (B,); None (rows of a cohort not seen while
                fitting) evaluates the cohort-free mechanisms.
            masks (torch.Tensor): (N, N), or (S, N, N) with the batch split into S equal slices, one mask each.
            nodes (NodeMechanisms | None): evaluate only these nodes, with their mechanisms; None: every node,
                with this model's.

        Returns:
            tuple[torch.Tensor, torch.Tensor | None]: feature means (B, F) (or (B, k) for `nodes`' features) and
            label logits (B, C), or None without a label node (or when `nodes` leaves the label out).

        Raises:
            ValueError: the model has a label node and `y` is None.
        """
        if masks.dim() == 2:
            masks = masks.unsqueeze(0)
        samples, batch = masks.shape[0], x.shape[0]
        if nodes is None:
            p: dict[str, torch.Tensor] = dict(self.mechanism_parameters())
            features: torch.Tensor | slice = slice(0, self.n_features)
            outputs: torch.Tensor = self.output_node
            n_means, with_label = self.n_features, self.n_classes > 0
        else:
            p, features, with_label = nodes.parameters, nodes.features, nodes.label
            outputs, n_means = self.output_node[self._output_columns(features, nodes.label)], len(features)
        columns = [additive_basis(x).flatten(1)]
        label_columns = None
        if self.n_classes:
            if y is None:
                raise ValueError("this structural-equation model has a label node: pass the labels")
            label_columns = F.one_hot(y, self.n_classes).to(x.dtype) - 1.0 / self.n_classes
            columns.append(label_columns)
        basis = torch.cat(columns, dim=1)
        out: torch.Tensor = GatedBasisProduct.apply(
            basis.view(samples, batch // samples, -1), p["weight"], masks[:, :, outputs], self.basis_node
        )
        out = out.reshape(batch, -1) + p["bias"]
        mean = out[:, :n_means]
        logits = out[:, n_means:] if with_label else None
        if groups is not None:
            # Cohort changes are relative (centred over cohorts): they cannot absorb a mechanism's own scale.
            scale = 1.0 + p["group_scale"] - p["group_scale"].mean(dim=0)
            shift = p["group_shift"] - p["group_shift"].mean(dim=0)
            mean = mean * scale[groups] + shift[groups]
            if label_columns is not None:
                effect = p["label_effect_shift"] - p["label_effect_shift"].mean(dim=0)
                label_gate = masks[:, self.n_features, features].repeat_interleave(batch // samples, 0)
                mean = mean + torch.einsum("bc,bcf->bf", label_columns, effect[groups]) * label_gate
            if logits is not None:
                logits = logits + (p["label_group_bias"] - p["label_group_bias"].mean(dim=0))[groups]
        return mean, logits

    def score(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None,
        groups: torch.Tensor | None,
        masks: torch.Tensor,
        nodes: NodeMechanisms | None = None,
    ) -> StructureScore:
        """The structural equations' NLL under `masks`, and the mechanism-shift penalty.

        Features are scored as Gaussians around their means with the learned noise scale; the label by its
        cross-entropy.

        Args:
            x (torch.Tensor): standardised features, shape (B, F).
            y (torch.Tensor | None): class indices, shape (B,); required with a label node.
            groups (torch.Tensor | None): cohort codes, shape (B,), or None for the cohort-free mechanisms.
            masks (torch.Tensor): (N, N), or (S, N, N) with the batch split into S equal slices.
            nodes (NodeMechanisms | None): score only these nodes, with their mechanisms; None: every node.

        Returns:
            StructureScore: the summed and per-node NLL, and the L1 of the per-cohort shifts.
        """
        mean, logits = self.mechanisms(x, y, groups, masks, nodes)
        p = dict(self.mechanism_parameters()) if nodes is None else nodes.parameters
        targets = x if nodes is None else x[:, nodes.features]
        standardised = (targets - mean) * torch.exp(-p["log_noise"])
        node_nll = (0.5 * math.log(2 * math.pi) + p["log_noise"] + 0.5 * standardised.pow(2)).mean(dim=0)
        node_shift = (
            p["group_shift"].abs().sum(dim=0)
            + p["group_scale"].abs().sum(dim=0)
            + p["label_effect_shift"].abs().sum(dim=(0, 1))
        )
        if logits is not None and y is not None:
            node_nll = torch.cat([node_nll, F.cross_entropy(logits, y).unsqueeze(0)])
            node_shift = torch.cat([node_shift, node_shift.new_zeros(1)])
        shift = (
            p["group_shift"].abs().sum() + p["group_scale"].abs().sum() + p["label_effect_shift"].abs().sum()
        )
        return StructureScore(
            nll=node_nll.sum(), node_nll=node_nll, mechanism_shift=shift, node_shift=node_shift
        )


@dataclass
class StructureFit:
    """How the structure phase ended.

    Attributes:
        steps (int): Adam steps taken.
        rounds (int): rounds of the schedule taken.
        acyclicity (float): h(A) at the end.
        removed_cycle_edges (list[tuple[int, int, float]]): edges (source, target, probability) left on a cycle, removed.
        reversed_label_edges (list[tuple[int, float]]): the label-edge search's label -> feature edges turned
            around, each (feature, nats per sample gained), in the order made (label_edges.py).
        added_label_parents (list[tuple[int, float]]): the search's feature -> label edges added, likewise.
        label_parents_made_children (list[tuple[int, float]]): its feature -> label edges turned, likewise.
        decided_edges (list[tuple[int, int, float]]): undecided edges kept by their score (edge_decisions.py).
        reversed_edges (list[tuple[int, int, float]]): feature edges (source, target, gain) turned around, likewise.
        history (list[dict[str, float]]): each round's record (round, nll, acyclicity, edges, is_dag, rho, moved, nll_fall).
        grad_norms (dict[str, list[float]]): each parameter's mean L2 gradient norm, one value per round.
    """

    steps: int
    rounds: int
    acyclicity: float
    removed_cycle_edges: list[tuple[int, int, float]] = field(default_factory=list)
    reversed_label_edges: list[tuple[int, float]] = field(default_factory=list)
    added_label_parents: list[tuple[int, float]] = field(default_factory=list)
    label_parents_made_children: list[tuple[int, float]] = field(default_factory=list)
    decided_edges: list[tuple[int, int, float]] = field(default_factory=list)
    reversed_edges: list[tuple[int, int, float]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
