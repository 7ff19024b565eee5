"""Width benchmark (issue 9): the causal lattice transformer's `train_model` against a plain transformer encoder of
the same size over the same feature tokens, in one process, for growing feature counts F.

    python bench/gpu_scaling.py                                   # CUDA: F = 64 ... 16384
    python bench/gpu_scaling.py --device cpu --sizes 64,256       # anywhere (small model; what CI smoke-tests)

For each F, on synthetic pan-cancer data with F features (model/data/generator.py): the plain encoder (PyTorch's
TransformerEncoder, pre-LN, the same d_model / heads / blocks / MLP width, the same tokenizer and [CLS] head),
eager and under torch.compile, and `train_model` with the seed's λ (bf16 autocast and compiled blocks on CUDA,
its defaults). Each runs a warm-up epoch, then `--timed-epochs` full epochs (3), and is credited the median
timed epoch (every epoch's time is in the record): samples/s, the ratio to the plain compiled
encoder, peak device memory, and MFU: the plain encoder's FLOPs per sample (forward + backward, counted by
torch.utils.flop_counter) times samples/s over a bf16 matrix-product peak measured in the same run (both models
are credited the same useful FLOPs, so train_model's overheads lower its MFU). The structure phase before
train_model's epochs runs a reduced budget here (`--structure-steps`), reported with its own time: this
benchmark is about the per-epoch cost at width. Batch 256 unless memory forces less (halved until it fits, at
least 8; the record says so, and names the card and its memory). `--no-eager` leaves out the plain eager encoder. At F = 1,024 a longer training (`--inference-epochs` at lr 1e-3, so the routers
learn to skip) compares routed with dense inference: samples/s, accuracy and the share of block passes run.

Writes the record to bench/out/gpu_scaling_<device>.json (`--record`: also bench/results/; an existing file is
never overwritten, a timestamped name is used) and a PNG of samples/s and memory against F beside each; prints
the record as one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.plain_baseline import (  # noqa: E402
    epoch_timing,
    matmul_peak,
    peak_memory,
    reset_peak,
    sync,
    time_plain,
)
from bench.record import finite_or_none, publish, record_paths  # noqa: E402
from model.artifacts import EpochRecord  # noqa: E402
from model.config import ModelConfig, SplitConfig, StructureConfig, SyntheticDataConfig, TrainConfig  # noqa: E402
from model.data.generator import make_synthetic_pancancer  # noqa: E402
from model.data.splits import DataSplit, split_dataset  # noqa: E402
from model.errors import TrainingOutOfMemoryError  # noqa: E402
from model.training.trainer import evaluate_model, train_model  # noqa: E402

logger = logging.getLogger("causal_lattice.bench.gpu")
N_BIOMARKERS = 4


def synthetic_split(n_features: int, rows: int) -> DataSplit:
    genes = n_features - N_BIOMARKERS
    config = SyntheticDataConfig(
        n_samples=rows,
        n_genes=genes,
        n_biomarkers=N_BIOMARKERS,
        edge_probability=min(0.2, 3.0 / genes),
        seed=11,
    )
    return split_dataset(make_synthetic_pancancer(config), SplitConfig(test_fraction=0.2))


def bench_configs(
    args: argparse.Namespace, device: torch.device, batch: int, epochs: int, lr: float
) -> tuple[ModelConfig, TrainConfig]:
    """The measured model and its training. The structure phase is short and starts dense (edge probability
    0.6, above the threshold): the lattice the epochs read has each node's full top-k parents, the most
    message-passing work the model ever does. No label-edge search: its refits belong to the structure phase,
    not to the epochs timed here."""
    structure = StructureConfig(
        steps_per_round=args.structure_steps,
        min_rounds=2,
        max_rounds=2,
        init_probability=0.6,
        orientation_steps=0,
    )
    model_config = ModelConfig(d_model=args.d_model, n_heads=args.heads, n_blocks=args.blocks, d_latent=32)
    train_config = TrainConfig(
        epochs=epochs,
        lr=lr,
        batch_size=batch,
        device=device.type,
        structure=structure,
        compile="off" if args.no_compile else "auto",
    )
    return model_config, train_config


def time_train_model(
    split: DataSplit, args: argparse.Namespace, device: torch.device, batch: int
) -> dict[str, Any]:
    model_config, train_config = bench_configs(args, device, batch, 1 + args.timed_epochs, TrainConfig().lr)
    epochs: list[EpochRecord] = []
    marks: dict[str, float] = {}

    def on_round(record: dict[str, float]) -> None:
        sync(device)
        marks["structure_end"] = time.perf_counter()

    reset_peak(device)
    sync(device)
    started = time.perf_counter()
    result = train_model(split.train, model_config, train_config, lambda r, n: epochs.append(r), on_round)
    return epoch_timing(split.train.features.shape[0], [epoch.seconds for epoch in epochs]) | {
        "structure_phase_s": marks["structure_end"] - started,
        "structure_steps": result.structure.steps,
        "message_passing_edges": int(result.model.edge_index.shape[1]),
        "peak_memory_gib": peak_memory(device),
    }


def time_inference(
    split: DataSplit, args: argparse.Namespace, device: torch.device, batch: int
) -> dict[str, Any]:
    """Train long enough for the routers to learn, then routed vs dense inference over the test rows."""
    model_config, train_config = bench_configs(args, device, batch, args.inference_epochs, lr=1e-3)
    model = train_model(split.train, model_config, train_config, None, None).model.to(device)
    x = torch.from_numpy(split.test.features).to(device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    rates, route_share = {}, 0.0
    for dense in (True, False):
        with torch.no_grad(), autocast:
            for _ in range(2):  # warm-up, then timed
                sync(device)
                started = time.perf_counter()
                shares = [model(chunk, dense=dense).routes.float().mean() for chunk in x.split(batch)]
                sync(device)
                elapsed = time.perf_counter() - started
        rates["dense" if dense else "routed"] = x.shape[0] / elapsed
        if not dense:
            route_share = float(torch.stack(shares).mean())
    routed, dense_metrics = evaluate_model(model, split.test), evaluate_model(model, split.test, dense=True)
    return {
        "epochs": args.inference_epochs,
        "dense_samples_per_s": rates["dense"],
        "routed_samples_per_s": rates["routed"],
        "routed_over_dense": rates["routed"] / rates["dense"],
        "block_passes_run_share": route_share,
        "routed_accuracy": routed["accuracy"],
        "dense_accuracy": dense_metrics["accuracy"],
    }


def with_batch(run: Callable[[int], dict[str, Any]], batch: int) -> dict[str, Any]:
    """Run at `batch`, halving it on out-of-memory down to 8; the result says which batch ran."""
    while True:
        try:
            return run(batch) | {"batch": batch}
        except (torch.cuda.OutOfMemoryError, TrainingOutOfMemoryError):
            gc.collect()  # the failed attempt's model and compiled graphs, before the smaller batch
            torch.compiler.reset()
            torch.cuda.empty_cache()
            if batch <= 8:
                return {"batch": batch, "error": "out of memory at batch 8"}
            logger.info("out of memory at batch %d: halving", batch)
            batch //= 2
        except Exception as error:  # one failing model must not lose the others' measurements
            logger.exception("failed at batch %d", batch)
            return {"batch": batch, "error": f"{type(error).__name__}: {error}"}


def measure(
    n_features: int, args: argparse.Namespace, device: torch.device, peak: float, inference: bool
) -> dict[str, Any]:
    """Every model at one feature count; with `inference`, also routed vs dense inference."""
    split = synthetic_split(n_features, args.rows or int(10 * args.batch / 0.8))
    logger.info("F=%d: %d training rows", n_features, split.train.features.shape[0])
    case: dict[str, Any] = {"n_features": n_features, "train_rows": int(split.train.features.shape[0])}
    if not args.no_eager:
        case["plain_eager"] = with_batch(lambda b: time_plain(split, args, device, False, b), args.batch)
    if not args.no_compile:
        case["plain_compiled"] = with_batch(lambda b: time_plain(split, args, device, True, b), args.batch)
    case["train_model"] = with_batch(lambda b: time_train_model(split, args, device, b), args.batch)
    flops = case.get("plain_eager", {}).get("flops_per_sample")
    for key in ("plain_eager", "plain_compiled", "train_model"):
        if flops and "samples_per_s" in case.get(key, {}):
            case[key]["mfu"] = flops * case[key]["samples_per_s"] / peak
    if "samples_per_s" in case.get("plain_compiled", {}) and "samples_per_s" in case["train_model"]:
        case["train_model_over_plain_compiled"] = (
            case["train_model"]["samples_per_s"] / case["plain_compiled"]["samples_per_s"]
        )
    if inference:
        case["inference"] = with_batch(lambda b: time_inference(split, args, device, b), args.batch)
    logger.info("F=%d: %s", n_features, json.dumps(case))
    return case


def plot(record: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [case["n_features"] for case in record["sizes"]]
    gpu = record["device"] == "cuda"  # the CPU has no peak-memory counter
    figure, axes = plt.subplots(1, 2 if gpu else 1, figsize=(11 if gpu else 6, 4.5), squeeze=False)
    panels = [(axes[0][0], "samples_per_s", "training throughput", "samples/s")]
    if gpu:
        panels.append((axes[0][1], "peak_memory_gib", "peak device memory", "GiB"))
    for axis, key, title, unit in panels:
        for model, label in (
            ("plain_eager", "plain, eager"),
            ("plain_compiled", "plain, compiled"),
            ("train_model", "train_model"),
        ):
            values = [case.get(model, {}).get(key) or math.nan for case in record["sizes"]]
            axis.plot(sizes, values, marker="o", label=label)
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("features F")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.legend()
    figure.suptitle(f"{record['device_name']}: d_model {record['d_model']}, {record['blocks']} blocks")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument(
        "--sizes", help="comma-separated feature counts (default: 64,256,1024,4096,8192,16384 on CUDA)"
    )
    parser.add_argument("--d-model", type=int, help="default 256 on CUDA, 64 on the CPU")
    parser.add_argument("--heads", type=int, help="default 8 on CUDA, 4 on the CPU")
    parser.add_argument("--blocks", type=int, help="default 8 on CUDA, 2 on the CPU")
    parser.add_argument("--batch", type=int, help="default 256 on CUDA, 64 on the CPU")
    parser.add_argument("--rows", type=int, help="rows per dataset (80 %% train); default 10 batches")
    parser.add_argument(
        "--structure-steps", type=int, default=25, help="structure steps per round (2 rounds)"
    )
    parser.add_argument(
        "--timed-epochs", type=int, default=3, help="timed epochs after the warm-up (the median counts)"
    )
    parser.add_argument(
        "--inference-epochs", type=int, default=12, help="training for the routed inference test"
    )
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="skip torch.compile everywhere (a quick smoke run on the CPU)",
    )
    parser.add_argument(
        "--no-eager",
        action="store_true",
        help="leave out the plain eager encoder (and its FLOP count, so MFU)",
    )
    parser.add_argument("--out", type=Path, help="record path (default bench/out/gpu_scaling_<device>.json)")
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    if args.timed_epochs < 1:
        parser.error(f"--timed-epochs {args.timed_epochs}: time at least 1 epoch")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda needs a CUDA GPU; use --device cpu --sizes 64,256 elsewhere")
    gpu = args.device == "cuda"
    sizes = [int(s) for s in (args.sizes or ("64,256,1024,4096,8192,16384" if gpu else "64,256")).split(",")]
    args.d_model = args.d_model or (256 if gpu else 64)
    args.heads = args.heads or (8 if gpu else 4)
    args.blocks = args.blocks or (8 if gpu else 2)
    args.batch = args.batch or (256 if gpu else 64)
    device = torch.device(args.device)
    peak = matmul_peak(device)
    inference_size = 1024 if gpu else sizes[-1]
    record: dict[str, Any] = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name(device) if gpu else "cpu",
        "device_memory_gib": torch.cuda.get_device_properties(device).total_memory / 2**30 if gpu else None,
        "torch": torch.__version__,
        "command": " ".join(["python bench/gpu_scaling.py", *(sys.argv[1:] if argv is None else argv)]),
        "d_model": args.d_model,
        "heads": args.heads,
        "blocks": args.blocks,
        "requested_batch": args.batch,
        "matmul_peak_flops": peak,
        "structure_steps": 2 * args.structure_steps,
        "timed_epochs": args.timed_epochs,
        "sizes": [],
    }
    for n_features in sizes:
        record["sizes"].append(
            measure(n_features, args, device, peak, inference=n_features == inference_size)
        )
    record = finite_or_none(record)
    for written in publish(
        record, record_paths(f"gpu_scaling_{args.device}.json", args.out, args.record), logger
    ):
        plot(record, written.with_suffix(".png"))
        logger.info("wrote %s", written.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
