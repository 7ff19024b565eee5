"""Structure-learning and causal-prediction benchmark suite (issues 8 and 21): the causal lattice transformer
against standard baselines on generated SCMs with known truth, side by side in one run.

    .venv/bin/python bench/structure.py                          # the suite, seed configuration
    .venv/bin/python bench/structure.py --ablation head_only     # one ablation (this model only)
    .venv/bin/python bench/structure.py --cases er20-nonlinear-3c --epochs 2 --no-baselines   # a smoke run

Data: the SCMs of SUITE (model/data/generator.py; 20 to 100 features, Erdős–Rényi and scale-free graphs, linear and
nonlinear mechanisms, 2 to 4 cohorts with shifted roots and changed mechanisms, biomarkers whose link to the label
flips sign in one held-out cohort), each with its true DAG: seven whose label is a linear logit of its causes, and
the `-xlabel-<term>` ones whose label adds a term no linear reader of its causes can represent (a product of two
causes, a sine or an absolute value); plus scikit-learn's breast-cancer set for i.i.d. accuracy. Per SCM, on the
same rows:
- this model (the seed configuration: ExperimentConfig's defaults) trained on a stratified i.i.d. split: the
  learned lattice against the true DAG (edge AUROC over every ordered feature pair, SHD, is_dag) and i.i.d. test
  accuracy, with the accuracy of the head's and of the readout's logits alone (`iid_accuracy_head_part`,
  `iid_accuracy_readout_part`: what each part contributes, without retraining); trained again without the label
  column (the unlabeled mode): its edge AUROC and SHD; trained on every cohort but the flip cohort: accuracy on the
  flip cohort (and its parts');
- structure baselines on the i.i.d. training rows (features only): causal-learn PC (Fisher-z, alpha 0.01) and
  GES (BIC), and DAGMA's nonlinear MLP model (dagma package); a CPDAG's undirected edge counts as both directions
  (one SHD error when the true edge is there);
- prediction baselines (model/evaluation/baselines.py), i.i.d. and on the flip cohort: logistic regression, histogram
  gradient boosting and an MLP on every feature (`baselines_iid`, `baselines_flip`) and on the features that
  training's model may read (`baselines_iid_readable`, `baselines_flip_readable`); the causal ceiling, the best of
  the three on the label's true parents (`causal_ceiling_iid`, `causal_ceiling_flip`, with the reader that won);
  and logistic regression on every feature but the label's true descendants (`iid_non_descendant_ceiling`).

Prints ONE JSON line on stdout (progress on stderr) and writes the same record under bench/out/ (an existing file
is never overwritten); `--record` also writes it under bench/results/. Summary keys (bench/structure_report.py):
median_edge_auroc, median_edge_auroc_unlabeled, median_flip_accuracy, median_flip_oracle_gap (to the causal
ceiling), median_iid_gap_to_best, shd_beats_best_baseline_share, `targets` (issue 8's targets, each met or not,
with the worst-baseline checks) and `issue21` (medians and targets for the nonlinear-label and the linear-label
SCMs apart).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")  # DAGMA draws a progress bar per iteration; keep stderr readable

from bench.record import finite_or_none, write_new  # noqa: E402
from bench.structure_baselines import non_descendant_ceiling, prediction_baselines, structure_baselines  # noqa: E402
from bench.structure_report import markdown_table, summarise  # noqa: E402
from bench.structure_suite import ABLATIONS, SUITE, configure, record_data  # noqa: E402
from model.config import SplitConfig, SyntheticDataConfig  # noqa: E402
from model.data.generator import make_synthetic_pancancer  # noqa: E402
from model.data.sources import load_breast_cancer_dataset  # noqa: E402
from model.data.splits import leave_one_group_out, split_dataset  # noqa: E402
from model.data.tables import Dataset  # noqa: E402
from model.evaluation.baselines import causal_ceiling  # noqa: E402
from model.evaluation.graph_metrics import structure_recovery  # noqa: E402
from model.evaluation.lattice_check import label_parent_recall, learned_label_parents  # noqa: E402
from model.nn.transformer import CausalLatticeTransformer  # noqa: E402
from model.training.trainer import evaluate_model, train_model  # noqa: E402

logger = logging.getLogger("causal_lattice.bench.structure")


def _model_lattice(result_model: Any, truth: Any) -> dict[str, Any]:
    encoder = result_model.lattice_encoder
    recovery = structure_recovery(
        encoder.adjacency().detach().numpy(), encoder.feature_names, truth, encoder.threshold
    )
    return {"edge_auroc": recovery.edge_auroc, "shd": recovery.shd, "is_dag": result_model.lattice_is_dag}


def _label_parent_recall(model: CausalLatticeTransformer, data: Dataset) -> float | None:
    """The share of the label's true parents that the lattice has as the label's parents."""
    learned = learned_label_parents(model)
    return None if learned is None else label_parent_recall(learned, data.label_parents or [])


def _label_edge_changes(trained: Any, prefix: str = "") -> dict[str, list[str]]:
    """The features the label-edge search turned from the label's children into its parents, added, and turned
    from its parents into its children."""
    names, fit = trained.model.lattice_encoder.feature_names, trained.structure
    return {
        f"{prefix}reversed_label_edges": [names[child] for child, _ in fit.reversed_label_edges],
        f"{prefix}added_label_parents": [names[parent] for parent, _ in fit.added_label_parents],
        f"{prefix}label_parents_made_children": [
            names[child] for child, _ in fit.label_parents_made_children
        ],
    }


def _accuracies(model: CausalLatticeTransformer, dataset: Dataset, prefix: str) -> dict[str, float]:
    """Test accuracy of `model` on `dataset`, and what the head's and the readout's logits each give alone
    (evaluate_model's part accuracies): what each part of a trained model contributes, without retraining."""
    metrics = evaluate_model(model, dataset)
    return {
        f"{prefix}_accuracy{part}": metrics[f"accuracy{part}"] for part in ("", "_head_part", "_readout_part")
    }


def reusable_structure_baselines(
    earlier: dict[str, Any] | None, data: dict[str, Any]
) -> dict[str, Any] | None:
    """The structure baselines of `earlier` (a case record) when it was made on the data `data` (a dumped
    SyntheticDataConfig), else None. A record older than a data option counts as made with its old value."""
    if earlier is None or "structure_baselines" not in earlier:
        return None
    if record_data(earlier.get("data", {})) != record_data(data):
        return None
    return dict(earlier["structure_baselines"])


def run_case(
    name: str,
    data_config: SyntheticDataConfig,
    ablation: str | None,
    epochs: int | None,
    baselines: bool,
    threads: int,
    baseline_timeout_s: float = 1800.0,
    earlier: dict[str, Any] | None = None,
    structure: bool = True,
    seed: int | None = None,
) -> dict[str, Any]:
    """One SCM end to end. `baselines`: the prediction baselines and, with `structure`, PC, GES and DAGMA.
    `earlier` (this case's record from an earlier run) lends its structure baselines when it was made on the
    same data: PC, GES and DAGMA do not depend on this model and take most of the time."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    model_config, train_config = configure(ablation, epochs, seed)
    data = dataclasses.replace(make_synthetic_pancancer(data_config), name=name)
    truth = data.true_graph()
    iid = split_dataset(data, SplitConfig())
    logger.info(
        "%s: %d features, %d true edges, i.i.d. training", name, data.n_features, len(data.true_edges or [])
    )
    trained = train_model(iid.train, model_config, train_config, None, None)
    record: dict[str, Any] = {
        "case": name,
        "n_features": data.n_features,
        "n_true_edges": len(data.true_edges or []),
        "data": data_config.model_dump(mode="json"),
        **_model_lattice(trained.model, truth),
        "structure_rounds": trained.structure.rounds,
        "removed_cycle_edges": len(trained.structure.removed_cycle_edges),
        **_label_edge_changes(trained),
        **_accuracies(trained.model, iid.test, "iid"),
        "readable_true_label_children": sorted(
            set(trained.model.readable_features()) & set(data.label_children or [])
        ),
    }
    record["label_parent_recall"] = _label_parent_recall(trained.model, data)

    unlabeled = dataclasses.replace(iid.train, labels=None, class_names=[])
    # The predictor phase plays no part in the structure: one epoch is enough for the unlabeled lattice.
    structure_only = train_model(
        unlabeled, model_config, train_config.model_copy(update={"epochs": 1}), None, None
    )
    lattice = _model_lattice(structure_only.model, truth)
    record.update(edge_auroc_unlabeled=lattice["edge_auroc"], shd_unlabeled=lattice["shd"])

    flip = leave_one_group_out(data, str(data_config.flip_group))
    logger.info("%s: training without the flip cohort %s", name, data_config.flip_group)
    flipped = train_model(flip.train, model_config, train_config, None, None)
    record.update(_accuracies(flipped.model, flip.test, "flip"))
    record["flip_label_parent_recall"] = _label_parent_recall(flipped.model, data)
    flip_readable = set(flipped.model.readable_features())
    record["flip_readable_true_label_children"] = sorted(flip_readable & set(data.label_children or []))
    record.update(_label_edge_changes(flipped, prefix="flip_"))
    # In these SCMs the label's only descendants are its children: any other unreadable feature is a cause lost.
    record["flip_unreadable_true_non_descendants"] = sorted(
        set(data.feature_names) - flip_readable - set(data.label_children or [])
    )
    if baselines:
        record["baselines_iid"] = prediction_baselines(iid)
        record["baselines_flip"] = prediction_baselines(flip)
        # The same readers on what each training's model may read: what the transformer adds over them.
        record["baselines_iid_readable"] = prediction_baselines(iid, trained.model.readable_features())
        record["baselines_flip_readable"] = prediction_baselines(flip, flipped.model.readable_features())
        record["causal_ceiling_iid"] = causal_ceiling(iid.train, iid.test)
        record["causal_ceiling_flip"] = causal_ceiling(flip.train, flip.test)
        record["iid_non_descendant_ceiling"] = non_descendant_ceiling(iid)
        record["best_baseline_iid"] = max(record["baselines_iid"].values())
    if baselines and structure:
        reused = reusable_structure_baselines(earlier, record["data"])
        if reused is not None:
            record["structure_baselines"] = reused
            record["structure_baselines_reused"] = True
        else:
            record["structure_baselines"] = structure_baselines(iid.train, baseline_timeout_s)
    record["wall_s"] = time.perf_counter() - started
    logger.info(
        "%s: done in %.0fs: %s",
        name,
        record["wall_s"],
        {k: record[k] for k in ("edge_auroc", "shd", "iid_accuracy", "flip_accuracy")},
    )
    return record


def breast_cancer(
    ablation: str | None, epochs: int | None, baselines: bool, threads: int, seed: int | None = None
) -> dict[str, Any]:
    torch.set_num_threads(threads)
    model_config, train_config = configure(ablation, epochs, seed)
    split = split_dataset(load_breast_cancer_dataset(), SplitConfig())
    trained = train_model(split.train, model_config, train_config, None, None)
    record: dict[str, Any] = {
        **_accuracies(trained.model, split.test, "iid"),
        "n_readable": len(trained.model.readable_features()),
    }
    if baselines:
        record["baselines_iid"] = prediction_baselines(split)
        record["baselines_iid_readable"] = prediction_baselines(split, trained.model.readable_features())
        record["best_baseline_iid"] = max(record["baselines_iid"].values())
    return record


def from_cases(paths: list[Path], record_it: bool) -> int:
    """A record made of case records kept by earlier (possibly cut-short) runs of this script."""
    loaded = [json.loads(path.read_text()) for path in paths]
    breast = [r for r in loaded if "case" not in r]
    cases = [r for r in loaded if "case" in r]
    record = {
        "suite": cases,
        "breast_cancer": breast[0] if breast else None,
        **summarise(cases),
        "from_cases": [str(path) for path in paths],
        "cases_missing": sorted(set(SUITE) - {c["case"] for c in cases}),
    }
    record = finite_or_none(record)
    print(markdown_table(cases), file=sys.stderr)
    logger.info("wrote %s", write_new(record, ROOT / "bench" / "out" / "structure-from-cases.json"))
    if record_it:
        logger.info("recorded %s", write_new(record, ROOT / "bench" / "results" / "structure_cpu2.json"))
    print(json.dumps(record, separators=(",", ":")), flush=True)
    return 0


def _earlier_cases(path: Path, parser: argparse.ArgumentParser) -> dict[str, dict[str, Any]]:
    """The case records of an earlier suite record, by case name; a file that is not one is a usage error."""
    try:
        return {case["case"]: case for case in json.loads(path.read_text())["suite"]}
    except (OSError, ValueError, KeyError, TypeError) as error:
        parser.error(f"--structure-baselines-from {path}: not a readable suite record ({error})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help=f"comma-separated subset of {', '.join(SUITE)}")
    parser.add_argument("--ablation", choices=sorted(ABLATIONS), help="run one ablation (this model only)")
    parser.add_argument("--epochs", type=int, help="override the predictor's epochs (smoke runs)")
    parser.add_argument(
        "--train-seed",
        type=int,
        help="override train.seed (the same data; how much a training's draws move it)",
    )
    parser.add_argument("--no-baselines", action="store_true", help="skip every baseline")
    parser.add_argument(
        "--no-structure-baselines",
        action="store_true",
        help="skip PC, GES and DAGMA (most of the time) but keep the prediction baselines",
    )
    parser.add_argument("--jobs", type=int, default=1, help="cases run in parallel processes")
    parser.add_argument("--threads", type=int, help="torch threads per case (default: the cores over --jobs)")
    parser.add_argument(
        "--baseline-timeout", type=float, default=1800.0, help="seconds a structure baseline may run per SCM"
    )
    parser.add_argument(
        "--structure-baselines-from",
        type=Path,
        metavar="JSON",
        help="reuse PC/GES/DAGMA results from an earlier suite record for the cases made on the same data",
    )
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    parser.add_argument(
        "--from-cases",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="summarise kept case records (bench/out/structure-case-*.json) instead of running; prints the "
        "Markdown table on stderr",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    if args.from_cases:
        return from_cases(args.from_cases, args.record)
    names = args.cases.split(",") if args.cases else list(SUITE)
    unknown = sorted(set(names) - set(SUITE))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; the suite has {', '.join(SUITE)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    baselines = not args.no_baselines and args.ablation is None
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(args.jobs, 1))
    started = time.perf_counter()
    stem = "structure" + (f"-{args.ablation}" if args.ablation else "")
    stem += f"-seed{args.train_seed}" if args.train_seed is not None else ""
    earlier = _earlier_cases(args.structure_baselines_from, parser) if args.structure_baselines_from else {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(
                run_case,
                name,
                SUITE[name],
                args.ablation,
                args.epochs,
                baselines,
                threads,
                args.baseline_timeout,
                earlier.get(name),
                not args.no_structure_baselines,
                args.train_seed,
            )
            for name in names
        ]
        bc_future = pool.submit(
            breast_cancer, args.ablation, args.epochs, baselines, threads, args.train_seed
        )
        # Each case's record is kept as soon as it is done: a suite cut short keeps what it finished.
        for future in as_completed(futures):
            done = finite_or_none(future.result())
            logger.info(
                "kept %s", write_new(done, ROOT / "bench" / "out" / f"{stem}-case-{done['case']}.json")
            )
        cases = [future.result() for future in futures]
        breast = bc_future.result()
        logger.info("kept %s", write_new(breast, ROOT / "bench" / "out" / f"{stem}-case-breast_cancer.json"))
    model_config, train_config = configure(args.ablation, args.epochs, args.train_seed)
    record = {
        "suite": cases,
        "breast_cancer": breast,
        **summarise(cases),
        "ablation": args.ablation,
        "ablation_means": ABLATIONS.get(args.ablation or "", "none: the full model"),
        "config": {
            "model": model_config.model_dump(mode="json"),
            "train": train_config.model_dump(mode="json"),
            "epochs_overridden": args.epochs is not None,
            "torch": torch.__version__,
            "threads_per_case": threads,
            "jobs": args.jobs,
        },
        "structure_baselines_from": str(args.structure_baselines_from or "") or None,
        "wall_s": time.perf_counter() - started,
    }
    record = finite_or_none(record)
    logger.info("wrote %s", write_new(record, ROOT / "bench" / "out" / f"{stem}.json"))
    if args.record:
        logger.info("recorded %s", write_new(record, ROOT / "bench" / "results" / f"{stem}_cpu2.json"))
    print(json.dumps(record, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
