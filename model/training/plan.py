"""Whether a configuration's trainings can run on this data and machine, checked before any training: the training settings, every cohort the protocol trains on, every data view and the memory the trainings need."""

from __future__ import annotations

import numpy as np

from model.config import ExperimentConfig
from model.data.splits import DataSplits, cohort_views, make_splits
from model.data.tables import Dataset
from model.data.validation import check_subsets, check_views, classes_present
from model.errors import DataValidationError
from model.training.memory import MemoryLimit, check_memory


def check_training_plan(
    dataset: Dataset, experiment: ExperimentConfig, memory: list[MemoryLimit]
) -> DataSplits:
    """Everything the run will train, checked before the first training: the cohorts, every split and the
    memory (under `memory`, the limits `model.training.memory.read_memory_limits` read; [] checks none). Returns the
    splits (made once)."""
    rounds = experiment.train.structure
    if rounds.min_rounds > rounds.max_rounds:
        raise DataValidationError(
            f"train.structure.min_rounds={rounds.min_rounds} exceeds max_rounds={rounds.max_rounds}: lower it"
        )
    cohorts = len(set(dataset.groups.tolist())) if dataset.groups is not None else 0
    train = experiment.train
    if train.lr * train.weight_decay >= 1:
        raise DataValidationError(
            f"train.lr x train.weight_decay = {train.lr * train.weight_decay:g} is at least 1, so AdamW's decoupled "
            f"decay flips and grows every weight each step: lower train.weight_decay below {1 / train.lr:g}"
        )
    if dataset.labels is not None and train.invariance > 0 and train.batch_size < cohorts:
        raise DataValidationError(
            f"train.batch_size={train.batch_size} is below the {cohorts} cohorts, and a V-REx batch holds rows of "
            f"every cohort: raise train.batch_size to at least {cohorts} or set train.invariance: 0"
        )
    subsets = experiment.evaluation.subsets
    check_subsets(dataset, subsets)
    groups = np.asarray(dataset.groups if dataset.groups is not None else [], dtype=str)
    for group in subsets if dataset.groups is not None else []:
        inside_rows: np.ndarray = groups == group
        if inside_rows.all():
            raise DataValidationError(
                f"cohort {group!r} is the only cohort, so leaving it out leaves no training rows: remove it from "
                "evaluation.subsets"
            )
        if dataset.labels is None:
            continue
        inside = classes_present(dataset.subset(inside_rows))
        outside = classes_present(dataset.subset(~inside_rows))
        for part, classes in (("its rows", inside), ("the other cohorts' rows", outside)):
            if len(classes) < 2:
                only = dataset.class_names[next(iter(classes))]
                raise DataValidationError(
                    f"cohort {group!r}: {part} hold a single class ({only!r}), so its per-cohort or "
                    f"leave-one-out training has one class: remove {group!r} from evaluation.subsets"
                )
    splits = make_splits(dataset, experiment.split, cohort_views(subsets))
    check_views(dataset, splits)
    check_memory(dataset, experiment, memory)
    return splits
