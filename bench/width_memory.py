"""What `train_model`'s predictor phase holds in device memory at width (issue 23), per feature count and batch.

    python bench/width_memory.py --sizes 4096 --batches 32,64,128
    python bench/width_memory.py --sizes 4096 --batches 64 --snapshot --profile   # what is live at the peak

For each (F, batch), `train_model` runs on synthetic data of F features (bench/gpu_scaling.py's data and
configuration, two steps per epoch) for two epochs: the first compiles and records the CUDA graphs, the
second is the steady state. It reports the peak allocated memory of the structure phase, of the first
epoch and of the second; the growth of the steady peak with the batch is what each sample holds.
`--snapshot` records the caching allocator's history (torch.cuda.memory._record_memory_history) and reports
the allocations live at the predictor phase's peak, largest first, with the code that made them.
`--profile` runs torch.profiler (`profile_memory=True`) over the second epoch and reports the operators with
the most device time and memory. `--sdpa` restricts the attention backends SDPA may pick (at trace time).

Prints one JSON line per case and writes the record to bench/out/width_memory_<device>.json (`--record`:
also bench/results/; an existing file is never overwritten).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gpu_scaling import bench_configs, synthetic_split  # noqa: E402
from bench.record import finite_or_none, record_paths, write_new  # noqa: E402
from model.artifacts import EpochRecord  # noqa: E402
from model.training.trainer import train_model  # noqa: E402

logger = logging.getLogger("causal_lattice.bench.width_memory")
GIB = 2**30
SDPA_BACKENDS = ("flash", "efficient", "cudnn", "math")


def restrict_sdpa(allowed: str) -> None:
    """Allow SDPA only the named backends ("all": PyTorch's defaults); read when a graph is traced."""
    names = SDPA_BACKENDS if allowed == "all" else tuple(allowed.split(","))
    for name in SDPA_BACKENDS:
        switch = "mem_efficient" if name == "efficient" else name
        getattr(torch.backends.cuda, f"enable_{switch}_sdp")(name in names)


def frames_of(event: dict[str, Any], keep: int = 4) -> list[str]:
    """The innermost Python frames of an allocation in this project or in inductor's generated code."""
    frames = [
        f"{Path(frame['filename']).name}:{frame['line']} {frame['name']}"
        for frame in event.get("frames", [])
        if str(ROOT) in frame["filename"] or "torchinductor" in frame["filename"]
    ]
    return frames[:keep]


def live_at_peak(snapshot: dict[str, Any], since: int) -> dict[str, Any]:
    """Replay the allocator's trace from event `since` on and list what was live at the highest point."""
    events = snapshot["device_traces"][torch.cuda.current_device()]
    live: dict[int, dict[str, Any]] = {}
    total = peak = 0
    peak_live: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        if event["action"] == "alloc":
            live[event["addr"]] = event
            total += event["size"]
        elif event["action"] == "free_completed" and event["addr"] in live:
            total -= live.pop(event["addr"])["size"]
        if index >= since and total > peak:
            peak, peak_live = total, list(live.values())
    peak_live.sort(key=lambda e: -e["size"])
    return {
        "traced_peak_gib": peak / GIB,
        "events": len(events),
        "largest_live_at_peak": [{"mib": e["size"] / 2**20, "frames": frames_of(e)} for e in peak_live[:25]],
    }


def profile_table(profiler: torch.profiler.profile, rows: int = 25) -> dict[str, str]:
    averages = profiler.key_averages()
    return {
        key: averages.table(sort_by=key, row_limit=rows, max_name_column_width=70)
        for key in ("self_cuda_time_total", "self_cuda_memory_usage")
    }


def measure(n_features: int, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device("cuda")
    # Exactly two full batches: one batch shape, so the compiled blocks compile once.
    # At least the generator's 60 rows (SyntheticDataConfig), so small batches at large F run too.
    train = synthetic_split(n_features, max(60, int(2 * batch / 0.8) + 8)).train.subset(np.arange(2 * batch))
    model_config, train_config = bench_configs(args, device, batch, 2, 1e-4)
    case: dict[str, Any] = {"n_features": n_features, "batch": batch, "sdpa": args.sdpa}
    marks: dict[str, Any] = {}
    profiler = torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA],
        profile_memory=True,
    )

    def on_round(record: dict[str, float]) -> None:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / GIB
        case["structure_peak_gib"] = max(case.get("structure_peak_gib", 0.0), peak)
        torch.cuda.reset_peak_memory_stats()
        if args.snapshot:
            marks["since"] = len(torch.cuda.memory._snapshot()["device_traces"][torch.cuda.current_device()])

    def on_epoch(record: EpochRecord, epochs: int) -> None:
        torch.cuda.synchronize()
        key = "first_epoch" if record.epoch == 1 else "steady"
        case[f"{key}_peak_gib"] = torch.cuda.max_memory_allocated() / GIB
        case[f"{key}_samples_per_s"] = 2 * batch / record.seconds
        torch.cuda.reset_peak_memory_stats()
        if args.profile and record.epoch == 1:
            profiler.start()
        elif args.profile:
            profiler.stop()

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    if args.snapshot:
        torch.cuda.memory._record_memory_history(max_entries=2_000_000, stacks="python")
    started = time.perf_counter()
    try:
        train_model(train, model_config, train_config, on_epoch, on_round)
    except Exception as error:  # one case out of memory must not lose the others
        case["error"] = f"{type(error).__name__}: {str(error)[:300]}"
    case["seconds"] = time.perf_counter() - started
    if args.snapshot:
        case["snapshot"] = live_at_peak(torch.cuda.memory._snapshot(), marks.get("since", 0))
        torch.cuda.memory._record_memory_history(enabled=None)
    if args.profile and "steady_peak_gib" in case:
        case["profile"] = profile_table(profiler)
    return case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4096", help="comma-separated feature counts")
    parser.add_argument("--batches", default="32,64,128", help="comma-separated batch sizes")
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--structure-steps", type=int, default=5, help="structure steps per round (2 rounds)")
    parser.add_argument("--no-compile", action="store_true", help="train the blocks eagerly")
    parser.add_argument(
        "--sdpa", default="all", help=f"SDPA backends allowed, comma-separated from {','.join(SDPA_BACKENDS)}"
    )
    parser.add_argument("--snapshot", action="store_true", help="list what is live at the predictor's peak")
    parser.add_argument("--profile", action="store_true", help="torch.profiler over the second epoch")
    parser.add_argument("--out", type=Path, help="record path (default bench/out/width_memory_cuda.json)")
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    unknown = set(args.sdpa.split(",")) - {*SDPA_BACKENDS, "all"}
    if unknown:
        parser.error(
            f"--sdpa {args.sdpa}: unknown backend(s) {sorted(unknown)}; use {','.join(SDPA_BACKENDS)}"
        )
    if not torch.cuda.is_available():
        parser.error("needs a CUDA GPU: it measures device memory")
    restrict_sdpa(args.sdpa)
    properties = torch.cuda.get_device_properties(0)
    record: dict[str, Any] = {
        "device_name": properties.name,
        "device_memory_gib": properties.total_memory / GIB,
        "torch": torch.__version__,
        "command": " ".join(["python bench/width_memory.py", *(sys.argv[1:] if argv is None else argv)]),
        "cases": [],
    }
    for n_features in (int(s) for s in args.sizes.split(",")):
        for batch in (int(b) for b in args.batches.split(",")):
            case = finite_or_none(measure(n_features, batch, args))
            print(json.dumps({k: v for k, v in case.items() if k not in ("profile", "snapshot")}), flush=True)
            record["cases"].append(case)
    for out in record_paths("width_memory_cuda.json", args.out, args.record):
        logger.info("wrote %s", write_new(record, out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
