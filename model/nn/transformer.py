"""The causal lattice transformer: tokenizer -> lattice message passing -> routed causal-RoPE blocks -> latent z
-> head (SPEC §2).

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


@dataclass
class ModelOutput:
    logits: torch.Tensor | None  # (B, C); None in the unlabeled (structure-only) mode
    latent_logits: torch.Tensor | None  # (B, C) the latent head's logits from z alone; None unlabeled
    z: torch.Tensor  # (B, d_latent)
    feature_states: torch.Tensor  # (B, F, d) final normalised feature-token states
    utilities: torch.Tensor  # (B, n_blocks)
    routes: torch.Tensor  # (B, n_blocks) the router's on/off decisions (0/1)
    attentions: list[torch.Tensor]  # per block (B, heads, R, F+1) for the requested query rows
    kl_terms: list[torch.Tensor]  # per block kl_causal of the requested rows (training)


class CausalLatticeTransformer(nn.Module):
    """SPEC §2. `n_classes == 0` gives the unlabeled mode: no task head, a pure structure learner."""

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
            feature_names, d, sem, threshold=config.lattice_threshold, top_k_parents=config.top_k_parents
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
        # A linear readout of the readable features beside the head (model/nn/readout.py says why). Zeros until
        # `initialise_readout`, and no random draws here: the structure phase's random stream is unchanged.
        self.readable_readout = nn.Parameter(torch.zeros(n_classes, len(feature_names)))
        self.lattice_is_dag = True
        for name in ("edge_index", "edge_weight", "readable", "prior", "bias", "rope_cos", "rope_sin"):
            self.register_buffer(name, torch.empty(0), persistent=False)
        self.refresh_lattice()

    def reset_parameters(self) -> None:
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
        """Recompute everything the predictor derives from the lattice (after the lattice changed)."""
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
        """Start the readout, and the head's bias, at the logistic regression of `y` on the readable features
        of the standardised training rows `x` (after the lattice is fitted: it decides what is readable), with
        the V-REx term over the cohorts `groups` at weight `invariance` (model/nn/readout.py)."""
        if self.head is None or self.config.prediction == "head_only":
            return
        weight, intercept = fit_linear_readout(x, y, self.readable, self.n_classes, groups, invariance)
        self.readable_readout.copy_(weight)
        self.head.bias.copy_(intercept)

    def readable_features(self) -> list[str]:
        """The features the prediction may read: the label's non-descendants in the thresholded lattice."""
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
        """x (B, F) standardised features. In eval mode the router's switches really skip blocks unless `dense`.

        `weight_rows` (token indices) asks for the explicit attention of those query rows, or with `kl` for
        their kl_causal against the prior on every `kl_stride`-th sample (the training path); `edge_weight`
        replaces the detached lattice weights of the message-passing edges (only the task-gradient ablation
        passes them).
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
        """The logits (B, C) from z (B, d_latent) and the standardised features x (B, F): the head's plus the
        linear readout's, as `config.prediction` says. `parts` keeps only some of them (the report's
        contributions); a part left out keeps the head's bias, so the class base rates stay.

        The unreadable features are multiplied by zero: moving them changes nothing.
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
        return self.prior

    @torch.no_grad()
    def causal_encoder(self, x: torch.Tensor) -> torch.Tensor:
        """The latent causal variables z (B, d_latent) of the seed's Exp-2."""
        return self(x).z

    @torch.no_grad()
    def get_attention_matrix(self, x: torch.Tensor, rows_per_chunk: int = 256) -> torch.Tensor:
        """(F, F) attention over feature tokens, averaged over blocks, heads and batch; rows sum to 1.

        Computed a chunk of query rows at a time, so memory stays at B x heads x chunk x F.
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
        logits = self(x, dense=dense).logits
        if logits is None:
            raise ValueError("this model was trained without a label column and has no task head")
        return torch.softmax(logits, dim=-1)
