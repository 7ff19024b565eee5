"""Builders of hostile inputs: a good table and configuration to start from, and ways to spoil them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

Build = Callable[[Path], Path]
ACCEPT = "ACCEPT"


@dataclass(frozen=True)
class Case:
    """One input: `build(directory)` writes its files and returns the run configuration's path. `expect` is a
    fragment of the one-line refusal, or ACCEPT with the reason it is fine in `reason`."""

    name: str
    family: str
    build: Callable[[Path], Path]
    expect: str
    reason: str = ""


def base_frame(rows: int = 120) -> pd.DataFrame:
    """Five informative numeric features, a two-class label and three cohorts of 40 rows each."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(rows, 5))
    frame = pd.DataFrame(values, columns=[f"g{i}" for i in range(5)])
    frame["label"] = np.where(values[:, 0] + 0.5 * rng.normal(size=rows) > 0, "yes", "no")
    frame["cohort"] = np.array(["lung", "colon", "breast"])[np.arange(rows) % 3]
    return frame


def base_experiment(directory: Path, data_path: Path) -> dict[str, Any]:
    return {
        "profile": "hostile",
        "data": {"kind": "table", "path": str(data_path), "label_column": "label", "group_column": "cohort"},
        "split": {"min_group_size": 10},
        "model": {"d_model": 16, "n_heads": 2, "n_blocks": 2, "d_latent": 8},
        "train": {
            "epochs": 1,
            "lr": 3e-3,
            "checkpoint_every": 0,
            "structure": {"steps_per_round": 5, "min_rounds": 1, "max_rounds": 1, "orientation_steps": 40},
        },
        "evaluation": {"repro_seeds": [42], "subsets": ["lung", "colon", "breast"], "tsne_perplexity": 5},
        "results_dir": str(directory / "results"),
    }


def merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`change` merged into a copy of `base`; a value of None deletes the key."""
    merged = copy.deepcopy(base)
    for key, value in change.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def write_config(directory: Path, experiment: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump({"parameters": {"experiment": experiment}, **(extra or {})}))
    return path


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def table(
    mutate: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f,
    suffix: str = ".csv",
    config: dict[str, Any] | None = None,
    rows: int = 120,
) -> Build:
    """The base table changed by `mutate`, with the base configuration changed by `config`."""

    def build(directory: Path) -> Path:
        path = directory / f"data{suffix}"
        write_frame(mutate(base_frame(rows)), path)
        return write_config(directory, merge(base_experiment(directory, path), config or {}))

    return build


def raw(
    content: bytes | Callable[[], bytes], suffix: str = ".csv", config: dict[str, Any] | None = None
) -> Build:
    """A data file with exactly these bytes."""

    def build(directory: Path) -> Path:
        path = directory / f"data{suffix}"
        path.write_bytes(content() if callable(content) else content)
        return write_config(directory, merge(base_experiment(directory, path), config or {}))

    return build


def csv_bytes(frame: pd.DataFrame | None = None) -> bytes:
    return (base_frame() if frame is None else frame).to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame | None = None) -> bytes:
    import io

    buffer = io.BytesIO()
    (base_frame() if frame is None else frame).to_parquet(buffer, index=False)
    return buffer.getvalue()


def with_path(make: Callable[[Path], Path], config: dict[str, Any] | None = None) -> Build:
    """The data path is whatever `make(directory)` creates (a directory, a pipe, a link...)."""

    def build(directory: Path) -> Path:
        path = make(directory)
        return write_config(directory, merge(base_experiment(directory, path), config or {}))

    return build


def config_change(change: dict[str, Any], extra: dict[str, Any] | None = None) -> Build:
    """The base table with the experiment block changed by `change` (and top-level keys `extra`)."""

    def build(directory: Path) -> Path:
        path = directory / "data.csv"
        write_frame(base_frame(), path)
        return write_config(directory, merge(base_experiment(directory, path), change), extra)

    return build


def config_text(text: str | bytes) -> Build:
    """A configuration file with this content; `{DATA}` stands for the base table's path."""

    def build(directory: Path) -> Path:
        data = directory / "data.csv"
        write_frame(base_frame(), data)
        path = directory / "config.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text.replace("{DATA}", str(data)))
        return path

    return build


def edges(content: bytes | pd.DataFrame, suffix: str = ".csv", config: dict[str, Any] | None = None) -> Build:
    """The base table with a ground-truth edge list of this content."""

    def build(directory: Path) -> Path:
        data = directory / "data.csv"
        write_frame(base_frame(), data)
        path = directory / f"edges{suffix}"
        if isinstance(content, pd.DataFrame):
            write_frame(content, path)
        else:
            path.write_bytes(content)
        change = merge({"data": {"edges_path": str(path)}}, config or {})
        return write_config(directory, merge(base_experiment(directory, data), change))

    return build


def edge_frame(*pairs: tuple[Any, Any]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["source", "target"])


def set_cell(column: str, row: int, value: object):  # type: ignore[no-untyped-def]
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object) if not isinstance(value, float) else frame[column]
        frame.loc[row, column] = value
        return frame

    return mutate


def assign(**columns: object):  # type: ignore[no-untyped-def]
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        for name, values in columns.items():
            frame[name] = values(frame) if callable(values) else values
        return frame

    return mutate


GOOD = csv_bytes()
HEADER = GOOD.split(b"\n", 1)[0]
