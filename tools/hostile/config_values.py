"""Hostile values inside a well-formed run configuration: each key's wrong types, ranges and combinations."""

from __future__ import annotations

from pathlib import Path

from tools.hostile.common import ACCEPT, Case, config_change, config_text


def _results_file(directory: Path) -> Path:
    (directory / "results").write_text("a file, not a folder\n")
    return config_change({"results_dir": str(directory / "results" / "run")})(directory)


def _tracking_uri(uri: object):  # type: ignore[no-untyped-def]
    return config_change({}, {"extra": {"mlflow": {"tracking_uri": uri}}})


def value_cases() -> list[Case]:
    c = config_change
    return [
        Case(
            "unknown experiment key",
            "config values",
            c({"epochz": 3}),
            "parameters.experiment.epochz: unknown key",
        ),
        Case("misspelt nested key", "config values", c({"train": {"lrr": 0.1}}), "train.lrr: unknown key"),
        Case("batch_size a word", "config values", c({"train": {"batch_size": "big"}}), "train.batch_size"),
        Case("batch_size 1", "config values", c({"train": {"batch_size": 1}}), "train.batch_size"),
        Case("negative lr", "config values", c({"train": {"lr": -1.0}}), "train.lr"),
        Case("lr NaN", "config values", c({"train": {"lr": float("nan")}}), "train.lr"),
        Case("lr infinite", "config values", c({"train": {"lr": float("inf")}}), "train.lr"),
        Case("epochs 0", "config values", c({"train": {"epochs": 0}}), "train.epochs"),
        Case("epochs 2.5", "config values", c({"train": {"epochs": 2.5}}), "train.epochs"),
        Case(
            "d_model not divisible by heads",
            "config values",
            c({"model": {"d_model": 30, "n_heads": 4}}),
            "divisible",
        ),  # fmt: skip
        Case(
            "head dim not divisible by rope",
            "config values",
            c({"model": {"d_model": 16, "n_heads": 2, "rope_dims": 3}}),
            "rope_dims",
        ),  # fmt: skip
        Case("dropout 1", "config values", c({"model": {"dropout": 1.0}}), "model.dropout"),
        Case(
            "test_fraction 0.95",
            "config values",
            c({"split": {"test_fraction": 0.95}}),
            "split.test_fraction",
        ),
        Case(
            "min_group_size 2", "config values", c({"split": {"min_group_size": 2}}), "split.min_group_size"
        ),
        Case(
            "min_group_size 1,000",
            "config values",
            c({"split": {"min_group_size": 1000}}),
            "needs at least 2000",
        ),
        Case("negative train seed", "config values", c({"train": {"seed": -1}}), "train.seed"),
        Case("negative split seed", "config values", c({"split": {"seed": -5}}), "split.seed"),
        Case("seed above 2**32", "config values", c({"train": {"seed": 2**40}}), "train.seed"),
        Case(
            "negative repro seed",
            "config values",
            c({"evaluation": {"repro_seeds": [42, -1]}}),
            "repro_seeds.1",
        ),
        Case(
            "subsets a string", "config values", c({"evaluation": {"subsets": "lung"}}), "evaluation.subsets"
        ),
        Case(
            "subsets of numbers",
            "config values",
            c({"evaluation": {"subsets": [1, 2]}}),
            "evaluation.subsets.0",
        ),
        Case("unknown data kind", "config values", c({"data": {"kind": "excel"}}), "data"),
        Case("table without a path", "config values", c({"data": {"path": None}}), "data.table.path"),
        Case(
            "unknown metric", "config values", c({"evaluation": {"metrics": ["f2"]}}), "evaluation.metrics.0"
        ),
        Case("optimizer SGD", "config values", c({"train": {"optimizer": "SGD"}}), "train.optimizer"),
        Case("device tpu", "config values", c({"train": {"device": "tpu"}}), "train.device"),
        Case("devices 0", "config values", c({"train": {"devices": 0}}), "train.devices"),
        Case("devices a word", "config values", c({"train": {"devices": "all"}}), "train.devices"),
        Case("devices 1.5", "config values", c({"train": {"devices": 1.5}}), "train.devices"),
        Case("devices 1,000", "config values", c({"train": {"devices": 1000}}), "train.devices"),
        Case(
            "devices above the batch's rows",
            "config values",
            c({"train": {"devices": 16, "batch_size": 8}}),
            "train.devices=16 exceeds the rows a rank gets",
        ),  # fmt: skip
        Case(
            "lattice_threshold 1",
            "config values",
            c({"model": {"lattice_threshold": 1.0}}),
            "lattice_threshold",
        ),
        Case(
            "min_rounds above max_rounds",
            "config values",
            c({"train": {"structure": {"min_rounds": 9, "max_rounds": 3}}}),
            "min_rounds=9 exceeds",
        ),  # fmt: skip
        Case(
            "batch_size below the cohorts",
            "config values",
            c({"train": {"batch_size": 2}}),
            "train.batch_size=2 is below the 3 cohorts",
        ),  # fmt: skip
        Case("lr of a billion", "config values", c({"train": {"lr": 1e9}}), "train.lr"),
        Case(
            "weight_decay of a billion",
            "config values",
            c({"train": {"weight_decay": 1e9}}),
            "lower train.weight_decay below",
        ),  # fmt: skip
        Case(
            "checkpoint_every negative",
            "config values",
            c({"train": {"checkpoint_every": -1}}),
            "checkpoint_every",
        ),  # fmt: skip
        Case(
            "d_model of a million",
            "config values",
            c({"model": {"d_model": 1_000_000, "n_heads": 2, "d_latent": 8}}),
            "GiB is available",
        ),  # fmt: skip
        Case(
            "mask_samples of 100 million",
            "config values",
            c({"train": {"structure": {"mask_samples": 100_000_000}}}),
            "GiB is available",
        ),  # fmt: skip
        Case("results_dir below a file", "config values", _results_file, "is not a folder"),
        Case(
            "perplexity above the rows",
            "config values",
            c({"evaluation": {"tsne_perplexity": 500}}),
            ACCEPT,
            "t-SNE caps perplexity at a third of the rows",
        ),  # fmt: skip
        Case(
            "batch larger than the data",
            "config values",
            c({"train": {"batch_size": 10_000}}),
            ACCEPT,
            "one batch per epoch",
        ),  # fmt: skip
        Case(
            "top_k_parents above the features",
            "config values",
            c({"model": {"top_k_parents": 500}}),
            ACCEPT,
            "capped at the feature count",
        ),  # fmt: skip
        Case(
            "a billion epochs",
            "config values",
            c({"train": {"epochs": 10**9}}),
            ACCEPT,
            "what was asked for; checkpoints make it resumable",
        ),  # fmt: skip
        Case(
            "no repro seeds",
            "config values",
            c({"evaluation": {"repro_seeds": []}}),
            ACCEPT,
            "the main seed is rerun for Exp-5",
        ),  # fmt: skip
        Case(
            "tracking URI of no scheme MLflow has",
            "config values",
            _tracking_uri("htp:/not a uri"),
            "extra.mlflow.tracking_uri 'htp:/not a uri' is not a tracking URI MLflow can use",
        ),  # fmt: skip
        Case(
            "tracking URI http without a host",
            "config values",
            _tracking_uri("http://"),
            "is not a tracking URI MLflow can use (it names no host)",
        ),  # fmt: skip
        Case(
            "tracking URI a broken database URL",
            "config values",
            _tracking_uri("sqlite:/mlflow.db"),
            "is not a tracking URI MLflow can use (it is not a database URL)",
        ),  # fmt: skip
        Case("tracking URI a number", "config values", _tracking_uri(5000), "must be text"),
        Case(
            "tracking URI a SQLite file",
            "config values",
            _tracking_uri("sqlite:///mlflow.db"),
            ACCEPT,
            "MLflow's SQL store takes it",
        ),  # fmt: skip
        Case(
            "tracking URI a folder path",
            "config values",
            _tracking_uri("mlruns"),
            ACCEPT,
            "MLflow's file store takes a path",
        ),  # fmt: skip
        Case(
            "2^33 synthetic rows",
            "config values",
            config_text("parameters: {experiment: {data: {kind: synthetic, n_samples: 8589934592}}}\n"),
            "n_samples: Input should be less than or equal to 1000000",
        ),  # fmt: skip
        Case(
            "synthetic table too large to generate",
            "config values",
            config_text(
                "parameters: {experiment: {data: {kind: synthetic, n_samples: 1000000, n_genes: 250}}}\n"
            ),
            "cells (rows x columns) over 210,000,000: lower n_samples/n_genes",
        ),  # fmt: skip
    ]
