"""Feature tokenizer: one token per numeric feature plus a learned [CLS] token (docs/design.md §2.1)."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FeatureTokenizer"]


class FeatureTokenizer(nn.Module):
    """`t_j = x_j * w_j + b_j + e_j` for each feature j; token 0 is [CLS].

    w_j and b_j carry the value; the identity embedding e_j tells the model which variable a token is.

    Args:
        n_features (int): the number of features F.
        d_model (int): token width d.

    Shapes:
        - **input:** standardised features `x` (B, F).
        - **output:** tokens (B, F + 1, d) with [CLS] first.
    """

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_features, d_model))
        self.bias = nn.Parameter(torch.empty(n_features, d_model))
        # Identity embedding e_j: tells the model which variable a token is, independent of its value.
        self.identity = nn.Parameter(torch.empty(n_features, d_model))
        self.cls = nn.Parameter(torch.empty(d_model))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw w, b and e uniformly in ±1/sqrt(d), and [CLS] from N(0, 0.02²)."""
        bound = 1.0 / math.sqrt(self.weight.shape[1])
        for parameter in (self.weight, self.bias, self.identity):
            nn.init.uniform_(parameter, -bound, bound)
        nn.init.normal_(self.cls, std=0.02)

    def feature_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The value-carrying feature tokens only, without [CLS].

        Args:
            x (torch.Tensor): standardised features, shape (B, F).

        Returns:
            torch.Tensor: feature tokens, shape (B, F, d).
        """
        return x.unsqueeze(-1) * self.weight + self.bias + self.identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokenise a batch: [CLS] first, then one token per feature.

        Args:
            x (torch.Tensor): standardised features, shape (B, F).

        Returns:
            torch.Tensor: tokens, shape (B, F + 1, d).
        """
        tokens = self.feature_tokens(x)
        cls = self.cls.expand(x.shape[0], 1, -1)
        return torch.cat([cls, tokens], dim=1)
