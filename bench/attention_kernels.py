"""The lattice's attention on SDPA with its additive bias against FlexAttention with a block mask (issue 23).

    python bench/attention_kernels.py --sizes 1024,4096 --batches 256,64 --parents 0,2,4

Issue 23's profile puts most of a step at F = 4,096 in attention, and the lattice's additive bias makes cuDNN's
kernel about 1.6x slower than without it. FlexAttention can skip the blocks of 128 x 128 token pairs where the
lattice allows no attention, at the price of a `score_mod` that gathers the bias. Which pays depends on the
lattice: this benchmark builds the model's own attention bias (`attention_bias` of a `LatticeEncoder` view,
label node included) from a random DAG with `--parents` expected parents per feature, in random column order
(as a table's columns come), and times the forward and backward pass of one attention layer (8 heads of 32
channels, bf16) three ways: SDPA with the bias (what the model runs), compiled FlexAttention with the block
mask of the allowed pairs and the bias's finite part as `score_mod`, and SDPA without a bias (the plain
encoder's). It also reports the largest difference between the first two outputs, the share of allowed token
pairs and the share of 128 x 128 blocks FlexAttention still computes.

Needs CUDA. Prints one JSON line per case and writes the record to bench/out/attention_kernels_<device>.json
(`--record`: also bench/results/; an existing file is never overwritten).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import card_name, publish, record_paths  # noqa: E402
from model.nn.attention import attention_bias, causal_prior  # noqa: E402
from model.nn.message_passing import LatticeEncoder  # noqa: E402
from model.structure.equations import StructuralEquationModel  # noqa: E402

logger = logging.getLogger("causal_lattice.bench.attention_kernels")
HEADS, HEAD_DIM = 8, 32
LABEL_PARENTS, LABEL_CHILDREN = 3, 4


def lattice_bias(n_features: int, parents: float, generator: torch.Generator, device: str) -> torch.Tensor:
    """The model's attention bias for a random DAG over `n_features` features plus the label node.

    Each feature gets on average `parents` parents among the features before it in a random order; the label
    gets three parents and four children. Edges are set in a `StructuralEquationModel`'s logits, so the bias
    comes from the same `LatticeEncoder.view`, `causal_prior` and `attention_bias` as the model's.

    Args:
        n_features (int): the number of features F.
        parents (float): the expected number of parents per feature.
        generator (torch.Generator): the random stream (CPU).
        device (str): where the bias is built.

    Returns:
        torch.Tensor: the bias in the model's padded storage, shape (T, T') with T = F + 1 and T' the next
        multiple of 16 (−inf where attention is not allowed); the bias itself is `[:, :T]`.
    """
    rank = torch.randperm(n_features, generator=generator)
    later = rank[None, :] > rank[:, None]  # later[i, j]: j comes after i, so i may be j's parent
    probability = (parents / rank.clamp_min(1).float())[None, :].clamp(max=1.0)
    edges = later & (torch.rand(n_features, n_features, generator=generator) < probability)
    by_rank = torch.argsort(rank)
    sem = StructuralEquationModel(n_features, n_classes=2, n_groups=1)
    logits = torch.full((n_features + 1, n_features + 1), -10.0)
    logits[:n_features, :n_features][edges] = 10.0
    middle = n_features // 2
    logits[by_rank[middle - LABEL_PARENTS : middle], n_features] = 10.0
    logits[n_features, by_rank[middle : middle + LABEL_CHILDREN]] = 10.0
    with torch.no_grad():
        sem.edge_logits.copy_(logits)
    view = LatticeEncoder([f"g{i}" for i in range(n_features)], HEADS * HEAD_DIM, sem).to(device).view()
    prior = causal_prior(view.distances, temperature=1.0)
    return attention_bias(view, prior, prior_weight=1.0)


def flex_inputs(bias: torch.Tensor) -> tuple[BlockMask, Callable[..., torch.Tensor]]:
    """FlexAttention's block mask of the allowed pairs and a `score_mod` adding the bias's finite part.

    Args:
        bias (torch.Tensor): the attention bias, shape (T, T), −inf where attention is not allowed.

    Returns:
        tuple[BlockMask, Callable]: the block mask and the score modification.
    """
    allowed = torch.isfinite(bias)
    finite = torch.where(allowed, bias, torch.zeros((), device=bias.device))
    tokens = bias.shape[0]

    def allowed_pair(
        batch: torch.Tensor, head: torch.Tensor, query: torch.Tensor, key: torch.Tensor
    ) -> torch.Tensor:
        return allowed[query, key]

    def add_bias(
        score: torch.Tensor, batch: torch.Tensor, head: torch.Tensor, query: torch.Tensor, key: torch.Tensor
    ) -> torch.Tensor:
        return score + finite[query, key]

    block_mask = create_block_mask(allowed_pair, None, None, tokens, tokens, device=str(bias.device))
    return block_mask, add_bias


def computed_block_share(allowed: torch.Tensor, block: int = 128) -> float:
    """The share of `block` x `block` tiles of the (T, T) allowed pairs that hold at least one allowed pair.

    FlexAttention computes those tiles and skips the others (the last row and column of tiles are partial).
    """
    tokens = allowed.shape[0]
    padded = -(-tokens // block) * block
    tiles = F.pad(allowed.float(), (0, padded - tokens, 0, padded - tokens))
    tiles = tiles.view(padded // block, block, padded // block, block).amax(dim=(1, 3))
    return float(tiles.mean())


def milliseconds(step: Callable[[], None], repeats: int) -> float:
    """The mean wall time of `step` after one warm-up call, synchronised, in milliseconds."""
    step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - started) / repeats


def measure(n_features: int, batch: int, parents: float, repeats: int, seed: int) -> dict[str, Any]:
    """Time one attention layer's forward and backward pass three ways on one lattice (see the module's doc)."""
    generator = torch.Generator().manual_seed(seed)
    padded = lattice_bias(n_features, parents, generator, "cuda")
    tokens = n_features + 1
    bias = padded[:, :tokens]
    allowed = torch.isfinite(bias)
    block_mask, add_bias = flex_inputs(bias)
    compiled_flex = torch.compile(flex_attention, dynamic=False)
    q, k, v = (
        torch.randn(batch, HEADS, tokens, HEAD_DIM, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        for _ in range(3)
    )
    mask = padded.to(torch.bfloat16)[:, :tokens]  # as the model slices it: rows stay 16-aligned
    kernels: dict[str, Callable[[], torch.Tensor]] = {
        "sdpa_with_bias": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        "flex_block_mask": lambda: compiled_flex(q, k, v, score_mod=add_bias, block_mask=block_mask),
        "sdpa_without_bias": lambda: F.scaled_dot_product_attention(q, k, v),
    }
    with torch.no_grad():
        difference = (kernels["sdpa_with_bias"]().float() - kernels["flex_block_mask"]().float()).abs().max()
    row: dict[str, Any] = {
        "n_features": n_features,
        "batch": batch,
        "parents": parents,
        "allowed_pairs": float(allowed.float().mean()),
        "computed_blocks": computed_block_share(allowed),
        "max_abs_difference": float(difference),
    }
    for name, kernel in kernels.items():
        row[f"{name}_ms"] = milliseconds(lambda kernel=kernel: kernel().sum().backward(), repeats)
    row["flex_over_sdpa_with_bias"] = row["flex_block_mask_ms"] / row["sdpa_with_bias_ms"]
    row["sdpa_with_bias_over_without"] = row["sdpa_with_bias_ms"] / row["sdpa_without_bias_ms"]
    logger.info("%s", row)
    return row


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_ints, default=[1024, 4096], help="feature counts F, comma-separated")
    parser.add_argument("--batches", type=_ints, default=[256, 64], help="one batch size per F")
    parser.add_argument("--parents", default="0,2,4", help="expected parents per feature, comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="timed forward+backward passes per kernel")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, help="the record's path (default bench/out/attention_kernels_<device>.json)"
    )
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not torch.cuda.is_available():
        parser.error("this benchmark times CUDA kernels and found no CUDA device (run it on a GPU machine)")
    if len(args.batches) != len(args.sizes):
        parser.error(
            f"--batches needs one batch per size: {len(args.sizes)} sizes, {len(args.batches)} batches"
        )
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    parents = [float(part) for part in args.parents.split(",")]
    rows = [
        measure(n, batch, p, args.repeats, args.seed)
        for n, batch in zip(args.sizes, args.batches, strict=True)
        for p in parents
    ]
    name = torch.cuda.get_device_name()
    record = {
        "device_name": name,
        "memory_gib": torch.cuda.get_device_properties(0).total_memory / 2**30,
        "torch": torch.__version__,
        "heads": HEADS,
        "head_dim": HEAD_DIM,
        "rows": rows,
    }
    publish(record, record_paths(f"attention_kernels_{card_name(name)}.json", args.out, args.record), logger)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
