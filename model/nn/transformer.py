"""The causal lattice transformer (docs/design.md §2): the whole model from features to logits.

Tokenizer -> lattice message passing -> routed causal-RoPE blocks -> latent z -> head.

The lattice comes from the structure learner inside `lattice_encoder.sem`; the predictor reads it detached
through `refresh_lattice()`, which derives the sparse message-passing edges, the RoPE coordinates, the causal
prior and the attention bias once per lattice and keeps them as buffers on the model's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model.config import ModelConfig
from model.nn.attention import CausalBlock, attention_bias, causal_prior
from model.nn.block_router import MetaUtilityLayer
from model.nn.message_passing import LatticeEncoder
from model.nn.readout import fit_linear_readout
from model.nn.rope import CausalRoPE, lattice_positions
from model.nn.tokenizer import FeatureTokenizer
from model.structure.equations import StructuralEquationModel

__all__ = ["CausalLatticeTransformer", "ModelOutput"]


@dataclass
class ModelOutput:
    """What one forward pass of `CausalLatticeTransformer` produced.

    Attributes:
        logits (torch.Tensor | None): the prediction's logits, shape (B, C); None in the unlabeled
            (structure-only) mode.
        latent_logits (torch.Tensor | None): the latent head's logits from z alone, shape (B, C); None unlabeled.
        z (torch.Tensor): the latent causal variables, the projected final [CLS] state, shape (B, d_latent).
        feature_states (torch.Tensor): the final normalised feature-token states, shape (B, F, d).
        utilities (torch.Tensor): the routers' utilities per block, shape (B, n_blocks).
        routes (torch.Tensor): the router's on/off decisions (0/1), shape (B, n_blocks).
        attentions (list[torch.Tensor]): per block, the attention of the requested query rows, shape
            (B, heads, R, F + 1).
        kl_terms (list[torch.Tensor]): per block, the scalar `kl_causal` of the requested rows (training).
    """

    logits: torch.Tensor | None
    latent_logits: torch.Tensor | None
    z: torch.Tensor
    feature_states: torch.Tensor
    utilities: torch.Tensor
    routes: torch.Tensor
    attentions: list[torch.Tensor]
    kl_terms: list[torch.Tensor]


class CausalLatticeTransformer(nn.Module):
    """The causal lattice model of docs/design.md §2; `n_classes == 0` gives the unlabeled mode.

    In the unlabeled mode there is no task head: the model is a pure structure learner. The lattice comes from
    the structural-equation model inside `lattice_encoder.sem`; the predictor reads it detached through buffers
    that `refresh_lattice()` recomputes after the lattice changed.

    Args:
        feature_names (list[str]): the F feature names, in column order.
        n_classes (int): the number of classes C; 0 without a label column.
        config (ModelConfig): the architecture (`model:` of the configuration).
        n_groups (int): the number of cohorts the structure learner treats as environments.

    Shapes:
        - **input:** standardised features `x` (B, F).
        - **output:** a `ModelOutput`: logits (B, C), z (B, d_latent), feature states (B, F, d), utilities and
          routes (B, n_blocks).
    """

    edge_index: torch.Tensor
    edge_weight: torch.Tensor
    readable: torch.Tensor
    prior: torch.Tensor
    bias: torch.Tensor
    rope_cos: torch.Tensor
    rope_sin: torch.Tensor

    def __init__(
        self, feature_names: list[str], n_classes: int, config: ModelConfig, n_groups: int = 1
    ) -> None:
        super().__init__()
        self.config = config
        self.feature_names = list(feature_names)
        self.n_classes = n_classes
        self.n_groups = n_groups
        d = config.d_model
        self.tokenizer = FeatureTokenizer(len(feature_names), d)
        sem = StructuralEquationModel(
            len(feature_names), n_classes if config.label_node else 0, n_groups, config.lattice_temperature
        )
        self.lattice_encoder = LatticeEncoder(
            feature_names,
            d,
            sem,
            threshold=config.lattice_threshold,
            top_k_parents=config.top_k_parents,
            reads=config.reads,
        )
        self.rope = CausalRoPE(d // config.n_heads, config.rope_dims, config.rope_base)
        blocks = [
            CausalBlock(d, config.n_heads, config.mlp_ratio, config.dropout) for _ in range(config.n_blocks)
        ]
        self.meta_utility_layer = MetaUtilityLayer(
            blocks, d, threshold=config.route_threshold, init_bias=config.router_init_bias
        )
        self.final_norm = nn.LayerNorm(d)
        self.latent = nn.Linear(d, config.d_latent)
        self.head = nn.Linear(config.d_latent, n_classes) if n_classes > 0 else None
        # A linear classifier of z alone, trained beside the task (TrainConfig.latent_supervision says why); it
        # plays no part in the logits.
        self.latent_head = nn.Linear(config.d_latent, n_classes) if n_classes > 0 else None
        # A linear readout of the readable features beside the head (docs/science.md, "Design in one page", says
        # why). Zeros until `initialise_readout`, and no random draws here: the structure phase's random stream is
        # unchanged.
        self.readable_readout = nn.Parameter(torch.zeros(n_classes, len(feature_names)))
        self.lattice_is_dag = True
        for name in ("edge_index", "edge_weight", "readable", "prior", "bias", "rope_cos", "rope_sin"):
            self.register_buffer(name, torch.empty(0), persistent=False)
        self.refresh_lattice()

    def reset_parameters(self) -> None:
        """Draw every weight afresh, zero the readout and recompute the lattice buffers."""
        for module in (self.tokenizer, self.lattice_encoder, self.meta_utility_layer):
            module.reset_parameters()
        self.final_norm.reset_parameters()
        self.latent.reset_parameters()
        for head in (self.head, self.latent_head):
            if head is not None:
                head.reset_parameters()
        nn.init.zeros_(self.readable_readout)
        self.refresh_lattice()

    @torch.no_grad()
    def refresh_lattice(self) -> None:
        """Recompute everything the predictor derives from the lattice (after the lattice changed).

        That is the sparse message-passing edges, the readable features, the RoPE angles ([CLS] at the origin),
        the causal prior, the attention bias and `lattice_is_dag`, kept as buffers on the model's device.
        """
        view = self.lattice_encoder.view()
        positions = lattice_positions(view.adjacency, self.config.rope_dims)
        positions = torch.cat([positions.new_zeros(1, positions.shape[1]), positions], dim=0)  # [CLS] at 0
        cos, sin = self.rope.angles(positions)
        prior = causal_prior(view.distances, self.config.prior_temperature)
        self.edge_index = view.edge_index
        self.edge_weight = view.edge_weight
        self.readable = view.readable
        self.prior = prior
        self.bias = attention_bias(view, prior, self.config.prior_bias_weight)
        self.rope_cos, self.rope_sin = cos, sin
        self.lattice_is_dag = view.is_dag

    @torch.no_grad()
    def initialise_readout(
        self, x: torch.Tensor, y: torch.Tensor, groups: torch.Tensor | None = None, invariance: float = 0.0
    ) -> None:
        """Start the readout, and the head's bias, at the logistic regression of `y` on the readable features.

        Called after the lattice is fitted: it decides what is readable. Does nothing without a head or with
        `prediction: head_only`.

        Args:
            x (torch.Tensor): the standardised training rows, shape (N, F).
            y (torch.Tensor): their class indices, shape (N,).
            groups (torch.Tensor | None): their cohort codes, shape (N,), for the V-REx term.
            invariance (float): the V-REx term's weight (model/nn/readout.py).
        """
        if self.head is None or self.config.prediction == "head_only":
            return
        weight, intercept = fit_linear_readout(x, y, self.readable, self.n_classes, groups, invariance)
        self.readable_readout.copy_(weight)
        self.head.bias.copy_(intercept)

    def readable_features(self) -> list[str]:
        """The features the prediction may read: the label's non-descendants in the thresholded lattice.

        Returns:
            list[str]: their names, in column order (every feature without a label node).
        """
        return [name for name, ok in zip(self.feature_names, self.readable.tolist(), strict=True) if ok]

    def forward(
        self,
        x: torch.Tensor,
        dense: bool = False,
        weight_rows: torch.Tensor | None = None,
        edge_weight: torch.Tensor | None = None,
        kl: bool = False,
        kl_stride: int = 1,
    ) -> ModelOutput:
        """Predict from standardised features; in eval mode the routers really skip blocks unless `dense`.

        `weight_rows` (token indices) asks for the explicit attention of those query rows, or with `kl` for
        their kl_causal against the prior on every `kl_stride`-th sample (the training path); `edge_weight`
        replaces the detached lattice weights of the message-passing edges (only the task-gradient ablation
        passes them).

        Args:
            x (torch.Tensor): standardised features, shape (B, F).
            dense (bool): run every block for every sample.
            weight_rows (torch.Tensor | None): token indices (1..F for features) of the R query rows to report.
            edge_weight (torch.Tensor | None): replacement weights of the message-passing edges, shape (E,).
            kl (bool): report the rows' kl_causal instead of their attention.
            kl_stride (int): estimate the KL on every `kl_stride`-th sample only.

        Returns:
            ModelOutput: logits, z, final feature states, utilities, routes and what was asked for.
        """
        tokens = self.tokenizer(x)
        weights = self.edge_weight if edge_weight is None else edge_weight
        features = self.lattice_encoder(tokens[:, 1:], self.edge_index, weights)
        h = torch.cat([tokens[:, :1], features], dim=1)
        prior_rows = self.prior[weight_rows - 1] if kl and weight_rows is not None else None
        routed = self.meta_utility_layer(
            h,
            self.rope_cos,
            self.rope_sin,
            self.bias,
            dense=dense,
            weight_rows=weight_rows,
            prior_rows=prior_rows,
            kl_stride=kl_stride,
        )
        hidden = self.final_norm(routed.hidden)
        z = self.latent(hidden[:, 0])
        logits = latent_logits = None
        if self.head is not None and self.latent_head is not None:
            logits = self.prediction_logits(x, z)
            latent_logits = self.latent_head(z)
        return ModelOutput(
            logits=logits,
            latent_logits=latent_logits,
            z=z,
            feature_states=hidden[:, 1:],
            utilities=routed.utilities,
            routes=routed.routes,
            attentions=routed.attentions,
            kl_terms=routed.kl_terms,
        )

    def prediction_logits(
        self, x: torch.Tensor, z: torch.Tensor, parts: tuple[str, ...] = ("head", "readout")
    ) -> torch.Tensor:
        """The logits: the head's plus the linear readout's, as `config.prediction` says.

        `parts` keeps only some of them (the report's contributions); a part left out keeps the head's bias, so
        the class base rates stay. The unreadable features are multiplied by zero: moving them changes nothing.

        Args:
            x (torch.Tensor): standardised features, shape (B, F).
            z (torch.Tensor): the latent causal variables, shape (B, d_latent).
            parts (tuple[str, ...]): which of "head" and "readout" to include.

        Returns:
            torch.Tensor: logits, shape (B, C).
        """
        assert self.head is not None
        prediction = self.config.prediction
        logits = (
            self.head(z)
            if "head" in parts and prediction != "readout_only"
            else self.head.bias.expand(len(z), -1)
        )
        if "readout" in parts and prediction != "head_only":
            logits = logits + (x * self.readable) @ self.readable_readout.T
        return logits

    def causal_prior(self) -> torch.Tensor:
        """The causal prior P over feature tokens of the current lattice.

        Returns:
            torch.Tensor: P_ij ∝ exp(-D_ij / τ), shape (F, F); rows sum to 1.
        """
        return self.prior

    @torch.no_grad()
    def causal_encoder(self, x: torch.Tensor) -> torch.Tensor:
        """The latent causal variables z of the seed's Exp-2 (docs/design.md, "The seed document").

        Args:
            x (torch.Tensor): standardised features, shape (B, F).

        Returns:
            torch.Tensor: z, shape (B, d_latent).
        """
        return self(x).z

    @torch.no_grad()
    def get_attention_matrix(self, x: torch.Tensor, rows_per_chunk: int = 256) -> torch.Tensor:
        """Attention over feature tokens, averaged over blocks, heads and batch (Exp-1's heatmap).

        Computed on the dense pass, a chunk of query rows at a time, so memory stays at B x heads x chunk x F.

        Args:
            x (torch.Tensor): standardised features, shape (B, F).
            rows_per_chunk (int): query rows per pass.

        Returns:
            torch.Tensor: the attention matrix, shape (F, F); rows sum to 1.
        """
        n = len(self.feature_names)
        rows = []
        for chunk in torch.arange(1, n + 1, device=x.device).split(rows_per_chunk):
            attentions = self(x, dense=True, weight_rows=chunk).attentions
            rows.append(torch.stack(attentions).mean(dim=(0, 1, 2))[:, 1:])
        matrix = torch.cat(rows)
        return matrix / matrix.sum(dim=-1, keepdim=True)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, dense: bool = False) -> torch.Tensor:
        """Class probabilities, the softmax of the logits.

        Args:
            x (torch.Tensor): standardised features, shape (B, F).
            dense (bool): run every block for every sample.

        Returns:
            torch.Tensor: probabilities, shape (B, C); rows sum to 1.

        Raises:
            ValueError: the model was trained without a label column.
        """
        logits = self(x, dense=dense).logits
        if logits is None:
            raise ValueError("this model was trained without a label column and has no task head")
        return torch.softmax(logits, dim=-1)
