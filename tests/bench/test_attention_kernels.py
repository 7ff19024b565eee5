"""The attention-kernel benchmark: its FlexAttention inputs give the model's attention, and its front door."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import flex_attention

from bench import attention_kernels


def test_the_block_mask_and_score_mod_give_the_models_attention() -> None:
    """Eager FlexAttention with the benchmark's inputs equals SDPA with the model's bias (CPU, float32)."""
    storage = attention_kernels.lattice_bias(40, 2.0, torch.Generator().manual_seed(0), "cpu")
    assert storage.shape == (41, 48)  # the model's storage: rows padded to a multiple of 16
    assert torch.isneginf(storage[:, 41:]).all()
    bias = storage[:, :41]
    allowed = torch.isfinite(bias)
    assert allowed.diagonal()[1:].all() and allowed[0, 0]
    assert 0 < float(allowed.float().mean()) < 1  # the lattice forbids some pairs and allows more than self
    block_mask, add_bias = attention_kernels.flex_inputs(bias)
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 41, 8) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    flexed = flex_attention(q, k, v, score_mod=add_bias, block_mask=block_mask)
    torch.testing.assert_close(flexed, expected, rtol=1e-5, atol=1e-5)


def test_more_parents_allow_more_pairs() -> None:
    shares = [
        float(
            torch.isfinite(
                attention_kernels.lattice_bias(60, p, torch.Generator().manual_seed(1), "cpu")[:, :61]
            )
            .float()
            .mean()
        )
        for p in (0.0, 2.0, 4.0)
    ]
    assert shares[0] < shares[1] < shares[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_without_cuda_it_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        attention_kernels.main(["--sizes", "64", "--batches", "2"])
    assert exit_info.value.code == 2
    assert "found no CUDA device" in capsys.readouterr().err


def test_the_computed_block_share_counts_tiles_with_an_allowed_pair() -> None:
    diagonal = torch.eye(300, dtype=torch.bool)  # tiles of 128: 3 x 3, the last partial
    assert attention_kernels.computed_block_share(diagonal) == pytest.approx(3 / 9)
    diagonal[0, 299] = True
    assert attention_kernels.computed_block_share(diagonal) == pytest.approx(4 / 9)
