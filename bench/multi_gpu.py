"""Data-parallel benchmark (issue 24): `train_model`'s samples/s and step time on 1, 2 and 4 GPUs of one machine
(every count up to the GPUs it has), at F = 1,024 and 4,096.

    python bench/multi_gpu.py --record          # a machine with 2+ GPUs: bench/results/multi_gpu_<card>x<N>.json
    python bench/multi_gpu.py --cpu-ranks 2 --sizes 16 ...   # a smoke run on gloo ranks of the CPU (CI)

Each GPU count trains the same model as bench/gpu_scaling.py's `train_model` (d_model 256, 8 blocks, bf16 and
compiled blocks: the CUDA defaults) on synthetic data of F features, as N data-parallel ranks
(model/training/launch.py) with `--batch-per-gpu` rows per rank and step (256; the global batch is N times
that: weak scaling, the way data parallelism is used), after a short structure phase. One warm-up epoch, then
`--timed-epochs` (3); the median timed epoch counts: samples/s (training rows over its seconds), step time, and
the speedup over one GPU. The data have 10 global steps per epoch at the largest count.

The record (bench/out/multi_gpu_<card>x<N>.json; with `--record` also under bench/results/; an existing file
is never overwritten) has `device_name`, `gpus` and `sizes`: per F, `n_features`, and `samples_per_s`,
`step_s` and `speedup` keyed by the GPU count ({"1": ..., "2": ...}). A machine with fewer than two GPUs is
told so in one line (exit 2). `--cpu-ranks N` times gloo ranks on the CPU instead, for a smoke check only:
its record is bench/out/multi_gpu_cpu-smoke.json and never a multi_gpu_<card>x<N> one.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gpu_scaling import bench_configs, synthetic_split  # noqa: E402
from bench.plain_baseline import epoch_timing  # noqa: E402
from bench.record import card_name, publish, record_paths  # noqa: E402
from model.artifacts import EpochRecord  # noqa: E402
from model.data.splits import DataSplit  # noqa: E402
from model.training.launch import train_on_ranks  # noqa: E402
from model.training.trainer import train_model  # noqa: E402

logger = logging.getLogger("causal_lattice.bench.multi_gpu")


def gpu_counts(available: int) -> list[int]:
    """1, 2 and 4 (the issue's shapes), and the machine's own count, up to what it has."""
    return sorted({n for n in (1, 2, 4, available) if n <= available})


def time_ranks(
    split: DataSplit, args: argparse.Namespace, device: torch.device, ranks: int
) -> dict[str, Any]:
    """`train_model` as `ranks` data-parallel ranks: the median timed epoch's samples/s and step time."""
    batch = args.batch_per_gpu * ranks
    model_config, train_config = bench_configs(args, device, batch, 1 + args.timed_epochs, 1e-4)
    train_config = train_config.model_copy(update={"devices": ranks})
    epochs: list[EpochRecord] = []

    def on_epoch(record: EpochRecord, total: int) -> None:
        epochs.append(record)

    if ranks == 1:
        train_model(split.train, model_config, train_config, on_epoch, None)
    else:
        train_on_ranks(split.train, model_config, train_config, device, ranks, 1, progress=on_epoch)
    rows = split.train.features.shape[0]
    timing = epoch_timing(rows, [epoch.seconds for epoch in epochs])
    steps = -(-rows // batch)
    return timing | {"step_s": rows / timing["samples_per_s"] / steps, "global_batch": batch, "steps": steps}


def measure(
    n_features: int, counts: list[int], args: argparse.Namespace, device: torch.device
) -> dict[str, Any]:
    split = synthetic_split(n_features, args.rows or int(10 * args.batch_per_gpu * max(counts) / 0.8))
    runs = {str(n): time_ranks(split, args, device, n) for n in counts}
    one = runs["1"]["samples_per_s"]
    case = {
        "n_features": n_features,
        "train_rows": int(split.train.features.shape[0]),
        "samples_per_s": {n: run["samples_per_s"] for n, run in runs.items()},
        "step_s": {n: run["step_s"] for n, run in runs.items()},
        "speedup": {n: run["samples_per_s"] / one for n, run in runs.items()},
        "runs": runs,
    }
    logger.info("F=%d: %s", n_features, json.dumps(case["speedup"]))
    return case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,4096", help="comma-separated feature counts")
    parser.add_argument("--cpu-ranks", type=int, help="smoke check: 1 to N gloo ranks on the CPU, no record")
    parser.add_argument("--d-model", type=int, help="default 256 on CUDA, 16 with --cpu-ranks")
    parser.add_argument("--heads", type=int, help="default 8 on CUDA, 2 with --cpu-ranks")
    parser.add_argument("--blocks", type=int, help="default 8 on CUDA, 2 with --cpu-ranks")
    parser.add_argument(
        "--batch-per-gpu", type=int, help="rows per rank and step (default 256; 16 on the CPU)"
    )
    parser.add_argument("--rows", type=int, help="rows per dataset (80 %% train); default 10 global steps")
    parser.add_argument(
        "--structure-steps", type=int, default=25, help="structure steps per round (2 rounds)"
    )
    parser.add_argument("--timed-epochs", type=int, default=3, help="timed epochs after the warm-up")
    parser.add_argument("--out", type=Path, help="record path (default bench/out/multi_gpu_<card>x<N>.json)")
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    if args.timed_epochs < 1:
        parser.error(f"--timed-epochs {args.timed_epochs}: time at least 1 epoch")
    smoke = args.cpu_ranks is not None
    if smoke and (args.cpu_ranks < 2 or args.record):
        parser.error(
            "--cpu-ranks takes 2 or more ranks, and its record is never a bench/results one (no --record)"
        )
    if smoke and args.out and re.fullmatch(r"multi_gpu_.+x\d+\.json", args.out.name):
        parser.error(f"--out {args.out}: a CPU smoke check never writes a multi_gpu_<card>x<N> record")
    available = args.cpu_ranks if smoke else torch.cuda.device_count()
    if available < 2:  # one line, no usage text: the options were fine, the machine is not
        print(
            f"error: this machine has {available} CUDA GPU(s): the multi-GPU benchmark needs 2 or more (run it "
            "on a multi-GPU machine; --cpu-ranks 2 is a smoke check on the CPU that records no GPU numbers)",
            file=sys.stderr,
        )
        return 2
    # These options are not part of gpu_scaling's bench_configs; it reads the ones it shares.
    args.no_compile = smoke
    args.d_model = args.d_model or (16 if smoke else 256)
    args.heads = args.heads or (2 if smoke else 8)
    args.blocks = args.blocks or (2 if smoke else 8)
    args.batch_per_gpu = args.batch_per_gpu or (16 if smoke else 256)
    device = torch.device("cpu" if smoke else "cuda")
    counts = gpu_counts(available)
    device_name = "cpu (gloo ranks, smoke check)" if smoke else torch.cuda.get_device_name(0)
    record: dict[str, Any] = {
        "device_name": device_name,
        "gpus": available,
        "gpu_counts": counts,
        "torch": torch.__version__,
        "command": " ".join(["python bench/multi_gpu.py", *(sys.argv[1:] if argv is None else argv)]),
        "d_model": args.d_model,
        "heads": args.heads,
        "blocks": args.blocks,
        "batch_per_gpu": args.batch_per_gpu,
        "structure_steps": 2 * args.structure_steps,
        "timed_epochs": args.timed_epochs,
        "sizes": [measure(int(f), counts, args, device) for f in args.sizes.split(",")],
    }
    name = "multi_gpu_cpu-smoke.json" if smoke else f"multi_gpu_{card_name(device_name)}x{available}.json"
    publish(record, record_paths(name, args.out, args.record), logger)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
