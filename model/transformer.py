"""The causal lattice transformer: tokenizer -> LatticeEncoder -> gated causal-RoPE blocks -> latent z ->
head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from model.attention import CausalBlock, causal_prior
from model.config import ModelConfig
from model.lattice import LatticeEncoder
from model.meta_utility import MetaUtilityLayer
from model.rope import CausalRoPE, lattice_positions
from model.tokenizer import FeatureTokenizer


@dataclass
class ModelOutput:
    logits: torch.Tensor | None  # (B, C); None in the unlabeled (structure-only) mode
    z: torch.Tensor  # (B, d_latent)
    reconstruction: torch.Tensor  # (B, F) structural-equation predictions
    adjacency: torch.Tensor  # (F, F)
    feature_states: torch.Tensor  # (B, F, d) final normalised feature-token states
    utilities: torch.Tensor  # (B, n_blocks)
    gates: torch.Tensor  # (B, n_blocks)
    attentions: list[torch.Tensor]  # per block (B, heads, F+1, F+1) when requested


class CausalLatticeTransformer(nn.Module):
    """SPEC §2. `n_classes == 0` gives the unlabeled mode: no task head, a pure structure learner."""

    def __init__(self, feature_names: list[str], n_classes: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.feature_names = list(feature_names)
        self.n_classes = n_classes
        d = config.d_model
        self.tokenizer = FeatureTokenizer(len(feature_names), d)
        self.lattice_encoder = LatticeEncoder(
            feature_names, d, temperature=config.lattice_temperature, threshold=config.lattice_threshold
        )
        self.rope = CausalRoPE(d // config.n_heads, config.rope_dims, config.rope_base)
        blocks = [
            CausalBlock(d, config.n_heads, self.rope, config.mlp_ratio, config.dropout)
            for _ in range(config.n_blocks)
        ]
        self.meta_utility_layer = MetaUtilityLayer(
            blocks, d, threshold=config.gate_threshold, init_bias=config.router_init_bias
        )
        self.final_norm = nn.LayerNorm(d)
        self.latent = nn.Linear(d, config.d_latent)
        self.head = nn.Linear(config.d_latent, n_classes) if n_classes > 0 else None

    def reset_parameters(self) -> None:
        for module in (self.tokenizer, self.lattice_encoder, self.meta_utility_layer):
            module.reset_parameters()
        self.final_norm.reset_parameters()
        self.latent.reset_parameters()
        if self.head is not None:
            self.head.reset_parameters()

    def rope_angles(self, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin for [CLS] (at the origin) followed by the lattice coordinates of each feature."""
        positions = lattice_positions(adjacency, self.config.rope_dims)
        positions = torch.cat([positions.new_zeros(1, positions.shape[1]), positions], dim=0)
        return self.rope.angles(positions)

    def forward(self, x: torch.Tensor, dense: bool = False, need_weights: bool = False) -> ModelOutput:
        """x (B, F) standardised features. In eval mode the utility gates really skip blocks unless
        `dense`."""
        adjacency = self.lattice_encoder.adjacency()
        feature_tokens = self.tokenizer.feature_tokens(x)
        reconstruction = self.lattice_encoder.reconstruct(feature_tokens, self.tokenizer.identity, adjacency)
        tokens = self.tokenizer(x)
        tokens = torch.cat([tokens[:, :1], self.lattice_encoder(tokens[:, 1:], adjacency)], dim=1)
        cos, sin = self.rope_angles(adjacency)
        gated = self.meta_utility_layer(tokens, cos, sin, dense=dense, need_weights=need_weights)
        hidden = self.final_norm(gated.hidden)
        z = self.latent(hidden[:, 0])
        return ModelOutput(
            logits=self.head(z) if self.head is not None else None,
            z=z,
            reconstruction=reconstruction,
            adjacency=adjacency,
            feature_states=hidden[:, 1:],
            utilities=gated.utilities,
            gates=gated.gates,
            attentions=gated.attentions,
        )

    def causal_prior(self) -> torch.Tensor:
        return causal_prior(
            self.lattice_encoder.adjacency(), self.config.lattice_threshold, self.config.prior_temperature
        )

    @torch.no_grad()
    def causal_encoder(self, x: torch.Tensor) -> torch.Tensor:
        """The latent causal variables z (B, d_latent) of the seed's Exp-2."""
        return self(x).z

    @torch.no_grad()
    def get_attention_matrix(self, x: torch.Tensor) -> torch.Tensor:
        """(F, F) attention over feature tokens, averaged over blocks, heads and batch; rows sum to 1."""
        attentions = self(x, dense=True, need_weights=True).attentions
        features = torch.stack(attentions).mean(dim=(0, 1, 2))[1:, 1:]
        return features / features.sum(dim=-1, keepdim=True)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, dense: bool = False) -> torch.Tensor:
        logits = self(x, dense=dense).logits
        if logits is None:
            raise ValueError("this model was trained without a label column and has no task head")
        return torch.softmax(logits, dim=-1)
