"""Property-based tests of the front door (hypothesis): for generated tables, edge lists, configurations and raw
bytes, `causal-lattice validate` either accepts (and a short training on the input then runs) or exits 2 with
one line naming the problem; never a traceback, never a hang (each example has a time limit)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tools.hostile import Case, run_case
from tools.hostile.common import base_experiment, base_frame, merge, write_config

# Derandomized: every run (CI's included) tries the same examples, so a red run is reproducible and not luck.
# Random runs found the holes fixed so far; set derandomize=False here (and raise max_examples) to hunt for more.
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TINY_CONFIG = Path(__file__).resolve().parent / "data" / "tiny_config.yaml"


def _check(build: Any) -> None:
    with tempfile.TemporaryDirectory() as directory:
        outcome = run_case(Case("generated", "generated", build, ""), Path(directory), train=True)
    event(outcome.category)  # --hypothesis-show-statistics shows how many were accepted and refused
    assert outcome.category in ("accepted", "refused"), outcome.line


def _write_table(frame: pd.DataFrame, directory: Path, suffix: str) -> Path:
    path = directory / f"data{suffix}"
    try:
        frame.to_parquet(path, index=False) if suffix == ".parquet" else frame.to_csv(path, index=False)
    except Exception:  # pandas/pyarrow cannot write this frame: the same cells as CSV text then
        path = directory / "data.csv"
        frame.to_csv(path, index=False)
    return path


names = st.one_of(
    st.sampled_from(["g0", "g1", "label", "cohort", "", " ", "a\x00b", "a\tb", "é", "x" * 300]),
    st.text(min_size=0, max_size=12),
)
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e40, max_value=1e40),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.booleans(),
    st.text(max_size=8),
    st.none(),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table with generated columns and cells, and the data block of a configuration for it."""
    rows = draw(st.integers(min_value=0, max_value=90))
    columns: dict[str, list[Any]] = {}
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        kind = draw(st.sampled_from(["normal", "normal", "constant", "cells", "classes", "cohorts"]))
        if kind == "normal":
            values: list[Any] = list(rng.normal(size=rows))
        elif kind == "constant":
            values = [draw(cells)] * rows
        elif kind == "classes":
            values = list(rng.choice(draw(st.lists(cells, min_size=1, max_size=4)), size=rows))
        elif kind == "cohorts":
            values = list(rng.choice(["lung", "colon", "breast", "a/b", ""], size=rows))
        else:
            values = [draw(cells) if rng.random() < 0.2 else float(v) for v in rng.normal(size=rows)]
        columns[draw(names)] = values
    frame = pd.DataFrame(columns)
    present = list(frame.columns) + ["missing"]
    data: dict[str, Any] = {
        "label_column": draw(st.one_of(st.none(), st.sampled_from(present))),
        "group_column": draw(st.one_of(st.none(), st.sampled_from(present))),
    }
    if draw(st.booleans()):
        data["feature_columns"] = draw(st.lists(st.sampled_from(present), max_size=4))
    return frame, data


@SETTINGS
@given(
    tables(),
    st.sampled_from([".csv", ".parquet"]),
    st.lists(st.sampled_from(["lung", "colon", "breast", "x", "a/b"]), max_size=3),
    st.integers(min_value=4, max_value=40),
)
def test_generated_tables_are_accepted_or_refused_in_one_line(table, suffix, subsets, min_group_size) -> None:
    frame, data = table

    def build(directory: Path) -> Path:
        path = _write_table(frame, directory, suffix)
        change = {"data": {"group_column": None, "label_column": None, **data}}
        experiment = merge(base_experiment(directory, path), change)
        experiment["evaluation"]["subsets"] = subsets
        experiment["split"]["min_group_size"] = min_group_size
        return write_config(directory, experiment)

    _check(build)


mutations = st.tuples(
    st.sampled_from(["cell", "column", "rename", "drop", "label", "cohort", "rows"]),
    st.sampled_from(["g0", "g1", "g2", "g3", "g4", "label", "cohort"]),
    cells,
    st.integers(min_value=0, max_value=119),
)


def _mutate(frame: pd.DataFrame, mutation: tuple[str, str, Any, int]) -> pd.DataFrame:
    kind, column, value, row = mutation
    column = {"label": "label", "cohort": "cohort"}.get(kind, column)
    if column not in frame.columns:
        return frame
    if kind == "cell":
        frame[column] = frame[column].astype(object)
        frame.loc[row % len(frame), column] = value
    elif kind == "column":
        frame[column] = [value] * len(frame)
    elif kind == "rename":
        frame = frame.rename(columns={column: str(value)})
    elif kind == "drop":
        frame = frame.drop(columns=column)
    elif kind == "label":
        frame["label"] = np.where(np.arange(len(frame)) % (row % 5 + 2) == 0, str(value), frame["label"])
    elif kind == "cohort":
        frame["cohort"] = np.where(np.arange(len(frame)) < row, str(value), frame["cohort"])
    else:
        frame = frame.iloc[: max(row, 1)]
    return frame.reset_index(drop=True)


@SETTINGS
@given(st.lists(mutations, max_size=3), st.sampled_from([".csv", ".parquet"]))
def test_good_tables_with_generated_damage(damage: list[tuple[str, str, Any, int]], suffix: str) -> None:
    def build(directory: Path) -> Path:
        frame = base_frame()
        for mutation in damage:
            frame = _mutate(frame, mutation)
        path = _write_table(frame, directory, suffix)
        return write_config(directory, base_experiment(directory, path))

    _check(build)


@SETTINGS
@given(st.binary(max_size=3000), st.sampled_from([".csv", ".parquet"]))
def test_raw_bytes_as_the_data_file(content: bytes, suffix: str) -> None:
    def build(directory: Path) -> Path:
        path = directory / f"data{suffix}"
        path.write_bytes(content)
        return write_config(directory, base_experiment(directory, path))

    _check(build)


@SETTINGS
@given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(str.encode)))
def test_raw_bytes_as_the_configuration(content: bytes) -> None:
    def build(directory: Path) -> Path:
        (directory / "config.yaml").write_bytes(content)
        return directory / "config.yaml"

    _check(build)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["g0", "g1", "g2", "g3", "g4", "label", "zz", ""]),
            st.sampled_from(["g0", "g1", "g2", "g3", "g4", None]),
        ),  # fmt: skip
        max_size=8,
    )
)
def test_generated_edge_lists(pairs: list[tuple[Any, Any]]) -> None:
    def build(directory: Path) -> Path:
        data, edges = directory / "data.csv", directory / "edges.csv"
        base_frame().to_csv(data, index=False)
        pd.DataFrame(pairs, columns=["source", "target"]).to_csv(edges, index=False)
        return write_config(
            directory, merge(base_experiment(directory, data), {"data": {"edges_path": str(edges)}})
        )

    _check(build)


# Keys of the experiment block and values that are right, wrong, extreme or of the wrong type.
SETTING_PATHS = [
    ("train", "epochs"), ("train", "lr"), ("train", "batch_size"), ("train", "seed"), ("train", "kl_rows"),
    ("train", "checkpoint_every"), ("train", "weight_decay"), ("train", "invariance_ramp_epochs"),
    ("model", "d_model"), ("model", "n_heads"), ("model", "n_blocks"), ("model", "rope_dims"),
    ("model", "top_k_parents"), ("model", "dropout"), ("model", "lattice_threshold"), ("split", "seed"),
    ("split", "test_fraction"), ("split", "min_group_size"), ("evaluation", "subsets"),
    ("evaluation", "repro_seeds"), ("evaluation", "tsne_perplexity"), ("data", "n_samples"),
    ("data", "n_genes"), ("data", "n_causal_genes"), ("data", "groups"), ("data", "flip_group"),
    ("data", "kind"), ("train", "structure"), ("typo", "key"),
]  # fmt: skip
setting_values = st.one_of(
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=-3, max_value=70),
    st.sampled_from([0, 1, 2, 2**33, -(2**40), 0.5, 1e-9, 1e9, float("nan"), float("inf"), True, None]),
    st.text(max_size=6),
    st.lists(st.sampled_from(["lung", "colon", "breast", 1, "x"]), max_size=4),
    st.dictionaries(
        st.sampled_from(["min_rounds", "max_rounds", "steps_per_round", "bogus"]), st.integers(-1, 5)
    ),
)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(SETTING_PATHS), setting_values), min_size=0, max_size=3))
def test_generated_configurations(changes: list[tuple[tuple[str, str], Any]]) -> None:
    def build(directory: Path) -> Path:
        document = yaml.safe_load(TINY_CONFIG.read_text())
        experiment = document["parameters"]["experiment"]
        experiment["results_dir"] = str(directory / "results")
        experiment["train"]["structure"] = {
            "steps_per_round": 5,
            "min_rounds": 1,
            "max_rounds": 1,
            "orientation_steps": 40,
        }
        experiment["data"]["n_samples"] = 240
        for (section, key), value in changes:
            block = experiment.setdefault(section, {})
            if isinstance(block, dict):
                block[key] = value
        path = directory / "config.yaml"
        path.write_text(yaml.safe_dump(document))
        return path

    _check(build)
