from __future__ import annotations

import torch

from model.nn.tokenizer import FeatureTokenizer
from tests.model.conftest import assert_finite_nonzero_grads


def test_shapes_and_cls_first() -> None:
    torch.manual_seed(0)
    tokenizer = FeatureTokenizer(6, 16)
    x = torch.randn(5, 6)
    tokens = tokenizer(x)
    assert tokens.shape == (5, 7, 16)
    assert tokenizer.feature_tokens(x).shape == (5, 6, 16)
    # [CLS] is the same learned vector for every sample, the rest are the feature tokens.
    assert torch.equal(tokens[:, 0], tokenizer.cls.expand(5, -1))
    assert torch.equal(tokens[:, 1:], tokenizer.feature_tokens(x))


def test_token_formula() -> None:
    torch.manual_seed(0)
    tokenizer = FeatureTokenizer(6, 16)
    x = torch.randn(3, 6)
    expected = x[:, :, None] * tokenizer.weight + tokenizer.bias + tokenizer.identity
    torch.testing.assert_close(tokenizer.feature_tokens(x), expected)
    # Token j depends on x_j only.
    moved = x.clone()
    moved[:, 2] += 1.0
    diff = (tokenizer.feature_tokens(moved) - tokenizer.feature_tokens(x)).abs().sum(dim=-1)
    assert (diff[:, 2] > 0).all()
    assert torch.equal(diff[:, [0, 1, 3, 4, 5]], torch.zeros(3, 5))


def test_gradient_flow() -> None:
    torch.manual_seed(0)
    tokenizer = FeatureTokenizer(6, 16)
    tokenizer(torch.randn(4, 6)).pow(2).sum().backward()
    assert_finite_nonzero_grads(tokenizer)
