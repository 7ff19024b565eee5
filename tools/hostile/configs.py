"""Hostile run configurations and ground-truth edge lists."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from tools.hostile.common import ACCEPT, Case, config_change, config_text
from tools.hostile.edges import edge_cases

DATA = "parameters:\n  experiment:\n    data: {kind: table, path: {DATA}, label_column: label, group_column: cohort}\n"


def _billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\nparameters: {experiment: {evaluation: {subsets: *a8}}}\n"


def _config_path(make):  # type: ignore[no-untyped-def]
    def build(directory: Path) -> Path:
        return make(directory)

    return build


def _directory(directory: Path) -> Path:
    (directory / "config.yaml").mkdir()
    return directory / "config.yaml"


def _fifo(directory: Path) -> Path:
    os.mkfifo(directory / "config.yaml")
    return directory / "config.yaml"


def _results_file(directory: Path) -> Path:
    (directory / "results").write_text("a file, not a folder\n")
    return config_change({"results_dir": str(directory / "results" / "run")})(directory)


def _tracking_uri(uri: object):  # type: ignore[no-untyped-def]
    return config_change({}, {"extra": {"mlflow": {"tracking_uri": uri}}})


def document_cases() -> list[Case]:
    return [
        Case("empty configuration", "config file", config_text(""), "is empty"),
        Case(
            "only a comment",
            "config file",
            config_text("# settings to come\n"),
            "missing `parameters.experiment`",
        ),
        Case("configuration is a list", "config file", config_text("- a\n- b\n"), "expected a mapping"),
        Case("configuration is a number", "config file", config_text("42\n"), "expected a mapping"),
        Case("YAML syntax error", "config file", config_text("parameters: [\n"), "is not valid YAML"),
        Case(
            "tab indentation",
            "config file",
            config_text("parameters:\n\texperiment: {}\n"),
            "is not valid YAML",
        ),
        Case(
            "unclosed quote",
            "config file",
            config_text('parameters: {experiment: {profile: "x}}\n'),
            "is not valid YAML",
        ),  # fmt: skip
        Case(
            "repeated key",
            "config file",
            config_text(DATA + "    profile: a\n    profile: b\n"),
            "key 'profile' repeats",
        ),  # fmt: skip
        Case(
            "latin-1 byte",
            "config file",
            config_text(b"parameters: {experiment: {profile: caf\xe9}}\n"),
            "is not UTF-8 text",
        ),  # fmt: skip
        Case("binary bytes", "config file", config_text(bytes(range(256)) * 4), "byte 0x80 at line 2"),
        Case("gzip bytes", "config file", config_text(gzip.compress(b"parameters: {}\n")), "gzip-compressed"),
        Case("NUL byte", "config file", config_text(b"parameters:\x00 {}\n"), "NUL byte"),
        Case(
            "control character",
            "config file",
            config_text("parameters: {experiment: {profile: \x07}}\n"),
            "is not valid YAML",
        ),  # fmt: skip
        Case("a directory", "config file", _config_path(_directory), "is a directory"),
        Case("a named pipe", "config file", _config_path(_fifo), "not a regular file"),
        Case("missing file", "config file", _config_path(lambda d: d / "absent.yaml"), "does not exist"),
        Case("alias bomb", "config file", config_text(_billion_laughs()), "expands (anchors and aliases)"),
        Case("over 1 MiB", "config file", config_text("# " + "x" * (1 << 20) + "\n"), "more than 1048576"),
        Case("a list as a mapping key", "config file", config_text("? [a, b]\n: 1\n"), "is not valid YAML"),
        Case(
            "python object tag",
            "config file",
            config_text("x: !!python/object/apply:os.system ['true']\n"),
            "is not valid YAML",
        ),  # fmt: skip
        Case(
            "unknown top-level key",
            "config file",
            config_change({}, {"paramters": {}}),
            "unknown top-level key",
        ),
        Case(
            "steps not a mapping",
            "config file",
            config_change({}, {"steps": [1]}),
            "`steps` must be a mapping",
        ),
        Case(
            "parameters not a mapping",
            "config file",
            config_text("parameters: [1]\n"),
            "`parameters` must be a mapping",
        ),  # fmt: skip
        Case(
            "experiment a list",
            "config file",
            config_text("parameters: {experiment: [1]}\n"),
            "must be a mapping",
        ),  # fmt: skip
        Case(
            "anchors used sensibly",
            "config file",
            config_text(
                DATA.replace("    data:", "    split: &s {seed: 3}\n    data:")
                + "    evaluation: {subsets: [lung]}\n"
            ),
            ACCEPT,
            "aliases are YAML",
        ),  # fmt: skip
        Case(
            "experiment null",
            "config file",
            config_text("parameters: {experiment: null}\n"),
            "`parameters.experiment` is empty",
        ),  # fmt: skip
        Case(
            "experiment an empty mapping",
            "config file",
            config_text("parameters: {experiment: {}}\n"),
            "`parameters.experiment` is empty",
        ),  # fmt: skip
        Case(
            "misspelt step name",
            "config file",
            config_change({}, {"steps": {"trian": {"settings": {"resources": {"gpu_count": 1}}}}}),
            "`steps` names ['trian'], which this configuration's pipeline does not run",
        ),  # fmt: skip
        Case(
            "step of a cohort not in subsets",
            "config file",
            config_change({}, {"steps": {"subset_liver": {"enable_cache": False}}}),
            "`steps` names ['subset_liver']",
        ),  # fmt: skip
        Case(
            "misspelt key in a step",
            "config file",
            config_change({}, {"steps": {"train": {"setings": {"resources": {"gpu_count": 1}}}}}),
            "`steps.train` has unknown key(s) ['setings']",
        ),  # fmt: skip
        Case(
            "step block not a mapping",
            "config file",
            config_change({}, {"steps": {"train": ["gpu"]}}),
            "`steps.train` must be a mapping",
        ),  # fmt: skip
        Case(
            "steps of every training",
            "config file",
            config_change(
                {},
                {
                    "steps": {
                        name: {"settings": {"resources": {"gpu_count": 1}}, "enable_cache": False}
                        for name in ["train", "repro_seed_42", "subset_lung", "logo_breast", "report"]
                    }
                },
            ),
            ACCEPT,
            "step names this configuration's pipeline runs, keys ZenML reads",
        ),  # fmt: skip
        Case(
            "unknown extra.mlflow key",
            "config file",
            config_change({}, {"extra": {"mlflow": {"tracking_url": "http://mlflow:5000"}}}),
            "`extra.mlflow` has unknown key(s) ['tracking_url']",
        ),  # fmt: skip
        Case(
            "extra.mlflow not a mapping",
            "config file",
            config_change({}, {"extra": {"mlflow": "http://mlflow:5000"}}),
            "`extra.mlflow` must be a mapping",
        ),  # fmt: skip
    ]


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
                "parameters: {experiment: {data: {kind: synthetic, n_samples: 900000, n_genes: 200}}}\n"
            ),
            "cells (rows x columns) over 50,000,000: lower n_samples/n_genes",
        ),  # fmt: skip
    ]


def config_cases() -> list[Case]:
    return document_cases() + value_cases() + edge_cases()
