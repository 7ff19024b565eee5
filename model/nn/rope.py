"""Causal RoPE: rotary position embeddings whose positions come from the learned lattice (docs/design.md §2.3).

RoPE is Su et al. 2021; the multi-axis positions are spectral coordinates of the lattice.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CausalRoPE", "lattice_positions"]


def lattice_positions(adjacency: torch.Tensor, n_dims: int) -> torch.Tensor:
    """Spectral coordinates of each variable from the normalised Laplacian of the symmetrised lattice.

    Uses the first k eigenvectors after the trivial one, scaled by sqrt(F) so coordinates are O(1). Each
    eigenvector's sign is fixed (largest-magnitude entry positive) so positions are deterministic. No gradient
    flows through the eigendecomposition.

    Args:
        adjacency (torch.Tensor): edge probabilities between features, shape (F, F).
        n_dims (int): the number of coordinates k per variable.

    Returns:
        torch.Tensor: positions of shape (F, k) in `adjacency`'s dtype; zero-padded columns when F - 1 < k.
    """
    with torch.no_grad():
        weights = adjacency.detach().double()
        symmetric = 0.5 * (weights + weights.T)
        n = symmetric.shape[0]
        degree = symmetric.sum(dim=1).clamp_min(1e-8)
        inv_sqrt = degree.rsqrt()
        laplacian = (
            torch.eye(n, dtype=weights.dtype, device=weights.device)
            - inv_sqrt[:, None] * symmetric * inv_sqrt
        )
        _, vectors = torch.linalg.eigh(laplacian)
        coords = vectors[:, 1 : n_dims + 1]
        if coords.shape[1] < n_dims:  # fewer variables than requested dimensions
            coords = torch.nn.functional.pad(coords, (0, n_dims - coords.shape[1]))
        pivot = coords.abs().argmax(dim=0)
        signs = torch.sign(coords[pivot, torch.arange(coords.shape[1])])
        signs[signs == 0] = 1
        return (coords * signs * n**0.5).to(adjacency.dtype)


class CausalRoPE(nn.Module):
    """Rotates query/key pairs by angles `omega * p`, where p has k coordinates (multi-axis RoPE).

    The head dimension is split into k equal slices, one per coordinate; each slice holds pairs rotated at
    geometrically spaced frequencies. Scores then depend on the causal offset p_i - p_j only. The module holds
    the frequencies; `angles` and `rotate` do the work.

    Args:
        head_dim (int): the attention head's width d_h; divisible by 2 * n_dims.
        n_dims (int): the number of position coordinates k.
        base (float): frequencies are base ** (-i / pairs) for the pairs of each coordinate's slice.

    Shapes:
        - **input:** positions (T, k) to `angles`; queries or keys (..., T, d_h) to `rotate`.
        - **output:** `cos`, `sin` (T, d_h / 2); rotated queries or keys (..., T, d_h).

    Raises:
        ValueError: `head_dim` is not divisible by 2 * `n_dims`.
    """

    frequencies: torch.Tensor

    def __init__(self, head_dim: int, n_dims: int, base: float = 10.0) -> None:
        super().__init__()
        if head_dim % (2 * n_dims):
            raise ValueError(f"head_dim={head_dim} must be divisible by 2 * n_dims={2 * n_dims}")
        self.n_dims = n_dims
        pairs_per_dim = head_dim // (2 * n_dims)
        frequencies = base ** (-torch.arange(pairs_per_dim, dtype=torch.float32) / max(pairs_per_dim, 1))
        self.register_buffer("frequencies", frequencies, persistent=False)

    def angles(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The rotation angles' cosines and sines for each token.

        Args:
            positions (torch.Tensor): each token's coordinates, shape (T, k).

        Returns:
            tuple[torch.Tensor, torch.Tensor]: cos and sin, each of shape (T, head_dim / 2).
        """
        theta = (positions.unsqueeze(-1) * self.frequencies).flatten(-2)
        return theta.cos(), theta.sin()

    @staticmethod
    def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Rotate queries or keys by per-token angles; pairs are (even, odd) channels.

        Args:
            x (torch.Tensor): queries or keys, shape (..., T, head_dim).
            cos (torch.Tensor): cosines of `angles`, shape (T, head_dim / 2).
            sin (torch.Tensor): sines of `angles`, shape (T, head_dim / 2).

        Returns:
            torch.Tensor: the rotated tensor, shape (..., T, head_dim).
        """
        even, odd = x[..., 0::2], x[..., 1::2]
        rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
        return rotated.flatten(-2)
