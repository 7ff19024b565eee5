"""Hostile run configuration files (their bytes, YAML and layout) and ground-truth edge lists; the values
inside a well-formed file are `tools/hostile/config_values.py`'s."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from tools.hostile.common import ACCEPT, Case, config_change, config_text
from tools.hostile.config_values import value_cases
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


def config_cases() -> list[Case]:
    return document_cases() + value_cases() + edge_cases()
