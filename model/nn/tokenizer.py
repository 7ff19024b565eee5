"""Feature tokenizer: one token per numeric feature plus a learned [CLS] token (SPEC §2.1)."""

from __future__ import annotations

import math

import torch
from torch import nn


class FeatureTokenizer(nn.Module):
    """`t_j = x_j * w_j + b_j + e_j` for each feature j; token 0 is [CLS]."""

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_features, d_model))
        self.bias = nn.Parameter(torch.empty(n_features, d_model))
        # Identity embedding e_j: tells the model which variable a token is, independent of its value.
        self.identity = nn.Parameter(torch.empty(n_features, d_model))
        self.cls = nn.Parameter(torch.empty(d_model))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.weight.shape[1])
        for parameter in (self.weight, self.bias, self.identity):
            nn.init.uniform_(parameter, -bound, bound)
        nn.init.normal_(self.cls, std=0.02)

    def feature_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B, F, d): the value-carrying feature tokens only."""
        return x.unsqueeze(-1) * self.weight + self.bias + self.identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B, F + 1, d) with [CLS] first."""
        tokens = self.feature_tokens(x)
        cls = self.cls.expand(x.shape[0], 1, -1)
        return torch.cat([cls, tokens], dim=1)
