"""Structure learning at transcriptome scale beside SDCD (issue 22): this model's structure phase and SDCD on the
same generated rows, on the same device, in the same run.

    python bench/structure_scale.py --device cuda --sizes 1000,4000,20000 --record   # a GPU card's record
    python bench/structure_scale.py --device cpu --sizes 1000 --record                # this CPU's
    python bench/structure_scale.py --device cpu --sizes 20 --rows 500 --no-sdcd --seed-e2e 0   # a smoke run

Data, per size F (model/data/generator.py, the embedded generator): SDCD's setting, 10,000 rows (`--rows`) of
F - 4 genes on an Erdős–Rényi DAG with about four parents per gene, nonlinear additive mechanisms, three cohorts
(shifted roots, changed mechanisms), a label caused by three genes and four biomarkers it causes (one keeps
its sign in every cohort, the others flip in one): F features in all, standardised.

- this model: the structure phase of a training (model/structure/fit.py: the schedule of the seed
  configuration, `TrainConfig().structure`, then the label-edge search) on the features, the label and the
  cohorts, as `train_model` runs it;
- SDCD (`sdcd` 0.1.4, its published defaults) on the same features, in its own environment
  (`--sdcd-python`, default build/venv-sdcd/bin/python, built by `make sdcd`) in a subprocess fed the same
  rows as a .npy file (bench/sdcd_run.py); past `--sdcd-timeout` seconds it is killed and recorded as
  `timed_out: true`, and an SDCD that exits with an error is recorded as `failed`.

A size that does not fit the device is recorded as `out_of_memory: true` (with the allocator's message) and the
run goes on to the next size.

Both are scored on the feature-to-feature edges against the true gene DAG (model/evaluation/graph_metrics.py:
precision, recall, SHD, edge AUROC over every ordered pair), with `is_dag` of the thresholded graph, the wall
time of the structure phase (`structure_s`, data generation excluded) and the device's peak memory
(`peak_memory_gib`, CUDA only; null on the CPU). `--seed-e2e F` (default 4,096; 0: off) also trains the seed
configuration end to end (`train_model`, structure phase and `--seed-e2e-epochs` epochs, default 50) at that
width: `seed_e2e` holds its wall time, its structure phase's and its lattice's precision and recall.

Prints ONE JSON line and writes the record to bench/out/structure_scale_<card>.json (`--record`: also under
bench/results/; an existing file is never overwritten). <card> is the GPU's model (`h100`, `h200`, ...) or
`cpu<cores>`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import torch
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.plain_baseline import peak_memory, reset_peak, sync  # noqa: E402
from bench.record import card_name as gpu_card_name  # noqa: E402
from bench.record import publish, record_paths  # noqa: E402
from model.config import ModelConfig, SplitConfig, StructureConfig, SyntheticDataConfig, TrainConfig  # noqa: E402
from model.data.batching import group_codes  # noqa: E402
from model.data.generator import make_synthetic_pancancer  # noqa: E402
from model.data.splits import split_dataset  # noqa: E402
from model.data.tables import Dataset, Standardizer  # noqa: E402
from model.evaluation.graph_metrics import structure_recovery  # noqa: E402
from model.structure.equations import StructuralEquationModel  # noqa: E402
from model.structure.fit import fit_structure, log_structure_round  # noqa: E402
from model.structure.graph_ops import is_acyclic  # noqa: E402
from model.training.device import numerics_for, seed_everything  # noqa: E402
from model.training.trainer import train_model  # noqa: E402

logger = logging.getLogger("causal_lattice.bench.structure_scale")
N_BIOMARKERS = 4
PARENTS_PER_GENE = 4
SDCD_PYTHON = ROOT / "build" / "venv-sdcd" / "bin" / "python"


def scm(n_features: int, rows: int, seed: int) -> Dataset:
    """SDCD's setting at width `n_features` (genes and the biomarkers): about four parents per gene."""
    genes = n_features - N_BIOMARKERS
    # Erdős–Rényi over a random order: gene k has about p·k parents, p·(genes - 1)/2 on average.
    probability = min(0.5, 2 * PARENTS_PER_GENE / (genes - 1))
    config = SyntheticDataConfig(
        n_samples=rows, n_genes=genes, n_biomarkers=N_BIOMARKERS, edge_probability=probability, seed=seed
    )
    return make_synthetic_pancancer(config)


def _truth(data: Dataset) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(data.feature_names)
    graph.add_edges_from(data.true_edges or [])
    return graph


def _scores(weights: np.ndarray, linked: np.ndarray, data: Dataset, truth: nx.DiGraph) -> dict[str, Any]:
    """Precision, recall and SHD of the 0/1 graph `linked`, edge AUROC of `weights`, both over the features."""
    recovery = structure_recovery(linked.astype(np.float32), data.feature_names, truth, 0.5)
    ranking = structure_recovery(weights, data.feature_names, truth, 0.5)
    return {
        "precision": recovery.precision,
        "recall": recovery.recall,
        "shd": recovery.shd,
        "edge_auroc": ranking.edge_auroc,
        "edges": int(linked.sum()),
    }


def run_model(
    data: Dataset, device: torch.device, truth: nx.DiGraph, train_config: TrainConfig
) -> dict[str, Any]:
    """This model's structure phase on the standardised rows, the label and the cohorts, timed on `device`."""
    model_config, seed = ModelConfig(), train_config.seed
    x = torch.from_numpy(Standardizer.fit(data.features).transform(data.features)).to(device)
    y = torch.from_numpy(data.labels).to(device)
    codes, cohorts = group_codes(data)
    groups = torch.from_numpy(codes).to(device)
    with numerics_for(device):
        seed_everything(seed)
        sem = StructuralEquationModel(
            x.shape[1], data.n_classes, len(cohorts), model_config.lattice_temperature
        ).to(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        sync(device)
        started = time.perf_counter()
        fit = fit_structure(
            sem,
            x,
            y,
            groups,
            train_config.structure,
            model_config.lattice_threshold,
            torch.Generator().manual_seed(seed),
            log_structure_round,
        )
        sync(device)
        seconds = time.perf_counter() - started
    with torch.no_grad():
        adjacency = sem.adjacency()
        linked = adjacency >= model_config.lattice_threshold
        dag = is_acyclic(linked)
    n = x.shape[1]
    features = adjacency[:n, :n].cpu().numpy()
    return {
        **_scores(features, features >= model_config.lattice_threshold, data, truth),
        "is_dag": dag,
        "structure_s": seconds,
        "peak_memory_gib": peak_memory(device),
        "rounds": fit.rounds,
        "max_rounds": train_config.structure.max_rounds,
        "settled": fit.rounds < train_config.structure.max_rounds,
        "removed_cycle_edges": len(fit.removed_cycle_edges),
        "label_edge_changes": len(fit.reversed_label_edges) + len(fit.added_label_parents),
        "decided_edges": len(fit.decided_edges),
        "reversed_edges": len(fit.reversed_edges),
    }


def run_sdcd(
    data: Dataset, device: torch.device, truth: nx.DiGraph, python: Path, timeout: float
) -> dict[str, Any]:
    """SDCD on the same standardised features, in its own environment, killed past `timeout` seconds."""
    with tempfile.TemporaryDirectory(prefix="sdcd-") as folder:
        rows = Path(folder) / "x.npy"
        np.save(rows, Standardizer.fit(data.features).transform(data.features))
        command = [str(python), str(ROOT / "bench" / "sdcd_run.py"), "--data", str(rows), "--out", folder]
        command += ["--device", device.type]
        try:
            done = subprocess.run(command, timeout=timeout, capture_output=True, text=True, check=False)
        except subprocess.TimeoutExpired:
            return {"timed_out": True, "timeout_s": timeout}
        if done.returncode != 0:  # recorded, like a timeout: the sizes before and after it still count
            tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
            return {"failed": f"exit {done.returncode}: {tail[0]}", "timed_out": False}
        result = json.loads((Path(folder) / "result.json").read_text())
        weights = np.load(Path(folder) / "weights.npy").astype(np.float32)
        dag = np.load(Path(folder) / "dag.npy") > 0
    return {
        **_scores(weights, dag, data, truth),
        "is_dag": nx.is_directed_acyclic_graph(nx.DiGraph(dag)),
        "structure_s": result["structure_s"],
        "peak_memory_gib": result["peak_memory_gib"],
        "timed_out": False,
    }


def run_seed_e2e(
    n_features: int, rows: int, device: torch.device, train_config: TrainConfig
) -> dict[str, Any]:
    """The seed configuration end to end (`train_model`: structure phase and epochs) at width `n_features`."""
    data = scm(n_features, rows, train_config.seed)
    split = split_dataset(data, SplitConfig())
    model_config = ModelConfig()
    epoch_seconds: list[float] = []
    started = time.perf_counter()
    trained = train_model(
        split.train, model_config, train_config, lambda record, _: epoch_seconds.append(record.seconds), None
    )
    sync(device)
    total = time.perf_counter() - started
    encoder = trained.model.lattice_encoder
    recovery = structure_recovery(
        encoder.adjacency().detach().cpu().numpy(), encoder.feature_names, _truth(data), encoder.threshold
    )
    return {
        "n_features": n_features,
        "epochs": train_config.epochs,
        "total_s": total,
        "structure_s": total - sum(epoch_seconds),
        "precision": recovery.precision,
        "recall": recovery.recall,
        "shd": recovery.shd,
        "edge_auroc": recovery.edge_auroc,
        "peak_memory_gib": peak_memory(device),
    }


def within_memory(device: torch.device, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`measure()`'s result, or `out_of_memory: true` with the allocator's message where the device ran out.

    A size that does not fit is a result of the benchmark (the record says so and the run goes on to the next
    size), not a reason to lose the sizes measured before it.
    """
    try:
        return measure()
    except torch.OutOfMemoryError as error:
        result = {
            "out_of_memory": True,
            "error": str(error).splitlines()[0],
            "peak_memory_gib": peak_memory(device),
        }
    reset_peak(device)
    logger.info("out of memory: %s", result["error"])
    return result


def card_name(device: torch.device) -> str:
    """`h100`, `h200`, ... for a GPU (its model in the device name), `cpu<cores>` for the CPU."""
    if device.type != "cuda":
        return f"cpu{len(os.sched_getaffinity(0))}"
    return gpu_card_name(torch.cuda.get_device_name(device))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,4000,20000", help="comma-separated feature counts F")
    parser.add_argument("--rows", type=int, default=10_000, help="rows per SCM")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0, help="the SCMs' and the trainings' seed")
    parser.add_argument("--no-sdcd", action="store_true", help="leave SDCD out")
    parser.add_argument(
        "--sdcd-python", type=Path, default=SDCD_PYTHON, help="an interpreter that imports sdcd"
    )
    parser.add_argument("--sdcd-timeout", type=float, default=1800.0, help="seconds SDCD may run per size")
    parser.add_argument(
        "--seed-e2e", type=int, default=4096, help="F of the end-to-end seed training; 0: off"
    )
    parser.add_argument("--seed-e2e-epochs", type=int, default=50, help="epochs of the end-to-end training")
    parser.add_argument("--steps-per-round", type=int, help="override the structure schedule's (smoke runs)")
    parser.add_argument("--max-rounds", type=int, help="override the structure schedule's (smoke runs)")
    parser.add_argument(
        "--orientation-steps", type=int, help="override the label-edge search's refit steps (smoke runs)"
    )
    parser.add_argument("--min-rounds", type=int, help="override the structure schedule's (diagnostics)")
    parser.add_argument("--edge-lr", type=float, help="override the edge logits' learning rate (diagnostics)")
    parser.add_argument("--sparsity", type=float, help="override the L1 weight on the lattice (diagnostics)")
    parser.add_argument(
        "--candidate-parents", type=int, help="screen candidate edges, this many per feature (diagnostics)"
    )
    parser.add_argument(
        "--undecided-floor",
        type=float,
        help="decide edges between this probability and the threshold by their refitted score (diagnostics)",
    )
    parser.add_argument(
        "--undecided-tries", type=int, help="undecided parents tried per feature (diagnostics)"
    )
    parser.add_argument(
        "--edge-reversals",
        action="store_true",
        default=None,
        help="reverse feature edges whose reversal lowers the score of both their nodes (diagnostics)",
    )
    parser.add_argument(
        "--out", type=Path, help="record path (default bench/out/structure_scale_<card>.json)"
    )
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: give comma-separated feature counts, e.g. 1000,4000,20000")
    if min(sizes) < N_BIOMARKERS + 8 or max(sizes) > 20_000 + N_BIOMARKERS:
        parser.error(f"--sizes {args.sizes}: each F between {N_BIOMARKERS + 8} and {20_000 + N_BIOMARKERS}")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda needs a CUDA GPU; use --device cpu")
    if not args.no_sdcd and not args.sdcd_python.exists():
        parser.error(f"--sdcd-python {args.sdcd_python} not found: run `make sdcd`, or pass --no-sdcd")
    overrides = {
        "steps_per_round": args.steps_per_round,
        "max_rounds": args.max_rounds,
        "orientation_steps": args.orientation_steps,
        "min_rounds": args.min_rounds,
        "edge_lr": args.edge_lr,
        "sparsity": args.sparsity,
        "candidate_parents": args.candidate_parents,
        "undecided_floor": args.undecided_floor,
        "undecided_tries": args.undecided_tries,
        "edge_reversals": args.edge_reversals,
    }
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if "max_rounds" in overrides and "min_rounds" not in overrides:
        overrides["min_rounds"] = min(overrides["max_rounds"], StructureConfig().min_rounds)
    try:
        structure = StructureConfig(**overrides)
    except ValidationError as error:
        parser.error(
            f"structure schedule overrides: {error.errors()[0]['loc'][0]}: {error.errors()[0]['msg']}"
        )
    if structure.min_rounds > structure.max_rounds:
        parser.error(
            f"--min-rounds {structure.min_rounds} exceeds the schedule's max_rounds {structure.max_rounds}"
        )
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    record: dict[str, Any] = {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cores": len(os.sched_getaffinity(0)),
        "torch": torch.__version__,
        "command": " ".join(["python bench/structure_scale.py", *(sys.argv[1:] if argv is None else argv)]),
        "rows": args.rows,
        "seed": args.seed,
        "sdcd_timeout_s": None if args.no_sdcd else args.sdcd_timeout,
        "structure": structure.model_dump(mode="json"),
        "sizes": [],
        "seed_e2e": None,
    }
    structure_config = TrainConfig(seed=args.seed, structure=structure)  # the structure phase's, every size
    for n_features in sizes:
        started = time.perf_counter()
        data = scm(n_features, args.rows, args.seed)
        truth = _truth(data)
        logger.info(
            "F=%d: %d true edges, generated in %.0f s",
            n_features,
            truth.number_of_edges(),
            time.perf_counter() - started,
        )
        case: dict[str, Any] = {"n_features": n_features, "true_edges": truth.number_of_edges()}
        case["model"] = within_memory(device, partial(run_model, data, device, truth, structure_config))
        logger.info("F=%d model: %s", n_features, case["model"])
        if not args.no_sdcd:
            case["sdcd"] = run_sdcd(data, device, truth, args.sdcd_python, args.sdcd_timeout)
            logger.info("F=%d SDCD: %s", n_features, case["sdcd"])
        record["sizes"].append(case)
    if args.seed_e2e:
        train_config = TrainConfig(
            seed=args.seed, epochs=args.seed_e2e_epochs, device=device.type, structure=structure
        )
        record["seed_e2e"] = within_memory(
            device, partial(run_seed_e2e, args.seed_e2e, args.rows, device, train_config)
        )
        logger.info("seed configuration end to end: %s", record["seed_e2e"])
    publish(record, record_paths(f"structure_scale_{card_name(device)}.json", args.out, args.record), logger)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
