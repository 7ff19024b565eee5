"""Hostile values and labels in an otherwise good table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.hostile.cohorts import cohort_cases
from tools.hostile.common import ACCEPT, GOOD, Case, assign, base_frame, csv_bytes, raw, set_cell, table
from tools.hostile.files import file_cases


def value_cases() -> list[Case]:
    cases = [
        Case(
            "NaN in a feature",
            "values",
            table(set_cell("g2", 7, float("nan"))),
            "non-finite value (nan) at row 7",
        ),
        Case("inf in a feature", "values", table(set_cell("g2", 7, float("inf"))), "non-finite value (inf)"),
        Case(
            "-inf in a feature", "values", table(set_cell("g2", 7, float("-inf"))), "non-finite value (-inf)"
        ),
        Case(
            "the text 'NaN'",
            "values",
            raw(csv_bytes(base_frame().assign(g3=["NaN"] + [0.5] * 119))),
            "non-finite value (nan)",
        ),  # fmt: skip
        Case(
            "an empty cell",
            "values",
            table(set_cell("g1", 3, float("nan"))),
            "non-finite value (nan) at row 3",
        ),
        Case("3e38, near float32's largest", "values", table(set_cell("g0", 5, 3e38)), "beyond +-1e+12"),
        Case("-3e38", "values", table(set_cell("g0", 5, -3e38)), "beyond +-1e+12"),
        Case("1e39, beyond float32", "values", table(set_cell("g0", 5, 1e39)), "beyond +-1e+12"),
        Case("1e300", "values", table(set_cell("g0", 5, 1e300)), "beyond +-1e+12"),
        Case("1e13 in one cell", "values", table(set_cell("g0", 5, 1e13)), "beyond +-1e+12"),
        Case(
            "2**70 as an integer",
            "values",
            raw(GOOD.replace(b"\n", b"\n" + str(2**70).encode() + b",0,0,0,0,yes,lung\n", 1)),
            "1.18e+21 at row 0, beyond +-1e+12",
        ),  # fmt: skip
        Case(
            "1e11 in one cell",
            "values",
            table(set_cell("g0", 5, 1e11)),
            ACCEPT,
            "within +-1e12, statistics stay finite",
        ),
        Case("a word in a numeric column", "values", table(set_cell("g2", 4, "high")), "(row 4: 'high')"),
        Case("a column of words", "values", table(assign(g2="high")), "not numeric"),
        Case("decimal comma", "values", table(set_cell("g2", 4, "1,5")), "(row 4: '1,5')"),
        Case("percent sign", "values", table(set_cell("g2", 4, "5%")), "(row 4: '5%')"),
        Case("hexadecimal", "values", table(set_cell("g2", 4, "0x1F")), "(row 4: '0x1F')"),
        Case("a date column", "values", table(assign(g2="2024-01-01")), "not numeric"),
        Case(
            "every feature constant",
            "values",
            table(assign(**{f"g{i}": 1.0 for i in range(5)})),
            "every feature is constant",
        ),  # fmt: skip
        Case("one feature constant", "values", table(assign(g3=0.0)), "1 feature(s) are constant"),
        Case("one feature all NaN", "values", table(assign(g3=float("nan"))), "non-finite value"),
        Case(
            "a feature constant but one row",
            "values",
            table(assign(g3=lambda f: [1.0] + [0.0] * (len(f) - 1))),
            ACCEPT,
            "it varies; standardisation keeps it finite",
        ),  # fmt: skip
        Case(
            "boolean feature", "values", table(assign(g4=lambda f: f["g0"] > 0)), ACCEPT, "booleans are 0/1"
        ),
        Case(
            "integer features",
            "values",
            table(assign(g4=lambda f: (f["g0"] * 10).round().astype(int))),
            ACCEPT,
            "integers are numbers",
        ),  # fmt: skip
        Case(
            "two identical features",
            "values",
            table(assign(g4=lambda f: f["g0"])),
            ACCEPT,
            "collinear features are common in omics; the lattice picks one",
        ),  # fmt: skip
        Case(
            "every row twice",
            "values",
            table(lambda f: pd.concat([f, f], ignore_index=True)),
            ACCEPT,
            "repeated rows are data",
        ),  # fmt: skip
        Case("no feature left", "values", table(lambda f: f[["label", "cohort"]]), "no feature columns"),
    ]
    return cases


def _labels(values):  # type: ignore[no-untyped-def]
    return table(assign(label=values))


def label_cases() -> list[Case]:
    n = 120
    no_subsets = {"evaluation": {"subsets": []}}
    return [
        Case(
            "1,000 classes on 1,500 rows",
            "label",
            table(
                assign(label=lambda f: [f"c{i % 1000}" for i in range(len(f))]), rows=1500, config=no_subsets
            ),
            "classes on 1500 rows",
        ),  # fmt: skip
        Case(
            "continuous label",
            "label",
            table(assign(label=lambda f: f["g0"] * 3.7), config=no_subsets),
            "non-integer numbers",
        ),  # fmt: skip
        Case(
            "integer-valued float label",
            "label",
            _labels(lambda f: (f["label"] == "yes").astype(float)),
            ACCEPT,
            "0.0/1.0 are two classes",
        ),  # fmt: skip
        Case("label with one class", "label", _labels("yes"), "single class"),
        Case("label with an empty cell", "label", table(set_cell("label", 9, None)), "is empty at row 9"),
        Case(
            "label mixes numbers and text",
            "label",
            _labels(lambda f: [1 if v == "yes" else "no" for v in f["label"]]),
            ACCEPT,
            "compared as text",
        ),  # fmt: skip
        Case(
            "a class with one row",
            "label",
            table(set_cell("label", 0, "rare"), config=no_subsets),
            "has 1 row(s)",
        ),
        Case(
            "a class with two rows",
            "label",
            table(lambda f: set_cell("label", 1, "rare")(set_cell("label", 0, "rare")(f)), config=no_subsets),
            "has 2 row(s)",
        ),  # fmt: skip
        Case(
            "an identifier as label",
            "label",
            _labels(lambda f: [f"patient-{i}" for i in range(len(f))]),
            "classes on 120 rows",
        ),  # fmt: skip
        Case(
            "three balanced classes",
            "label",
            _labels(lambda f: np.array(["a", "b", "c"])[(np.arange(len(f)) // 3) % 3]),
            ACCEPT,
            "every class has rows on every side",
        ),  # fmt: skip
        Case("boolean label", "label", _labels(lambda f: f["label"] == "yes"), ACCEPT, "two classes"),
        Case(
            "negative integer label",
            "label",
            _labels(lambda f: np.where(f["label"] == "yes", -1, -2)),
            ACCEPT,
            "two classes",
        ),  # fmt: skip
        Case(
            "control character in a class",
            "label",
            _labels(lambda f: f["label"].str.replace("yes", "y\x07s")),
            "control character",
        ),  # fmt: skip
        Case(
            "label column missing",
            "label",
            table(lambda f: f.drop(columns="label")),
            "label_column 'label' is not",
        ),
        Case(
            "label also a feature",
            "label",
            table(config={"data": {"feature_columns": ["g0", "g1", "label"]}}),
            "also listed in data.feature_columns",
        ),  # fmt: skip
        Case(
            "group also a feature",
            "label",
            table(config={"data": {"feature_columns": ["g0", "cohort"]}}),
            "group_column 'cohort' is also listed",
        ),  # fmt: skip
        Case(
            "label column is the group column",
            "label",
            table(config={"data": {"label_column": "cohort"}}),
            "are both 'cohort'",
        ),  # fmt: skip
        Case(
            "feature_columns repeat a name",
            "label",
            table(config={"data": {"feature_columns": ["g0", "g0"]}}),
            "duplicate feature name",
        ),  # fmt: skip
        Case(
            "feature_columns names a missing column",
            "label",
            table(config={"data": {"feature_columns": ["g0", "zz"]}}),
            "['zz'] missing",
        ),  # fmt: skip
        Case(
            "ten classes on 120 rows, no cohorts",
            "label",
            table(assign(label=lambda f: [f"c{i % 10}" for i in range(n)]), config=no_subsets),
            ACCEPT,
            "12 rows per class: every class on both sides",
        ),  # fmt: skip
    ]


def table_cases() -> list[Case]:
    return file_cases() + value_cases() + label_cases() + cohort_cases()
