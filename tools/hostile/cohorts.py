"""Hostile cohorts: the group column and evaluation.subsets."""

from __future__ import annotations

import numpy as np

from tools.hostile.common import ACCEPT, Case, assign, set_cell, table


def _cohorts(values, subsets=("lung", "colon", "breast"), **config):  # type: ignore[no-untyped-def]
    return table(assign(cohort=values), config={"evaluation": {"subsets": list(subsets)}, **config})


def cohort_cases() -> list[Case]:
    three = np.array(["lung", "colon", "breast"])
    return [
        Case(
            "group column missing",
            "cohort",
            table(lambda f: f.drop(columns="cohort")),
            "group_column 'cohort' is not",
        ),  # fmt: skip
        Case("group cell empty", "cohort", table(set_cell("cohort", 4, None)), "is empty at row 4"),
        Case(
            "a cohort of 30 rows (min 20)",
            "cohort",
            _cohorts(
                lambda f: np.r_[["tiny"] * 30, three[np.arange(90) % 3]],
                ("tiny",),
                split={"min_group_size": 20},
            ),
            "cohort 'tiny' (evaluation.subsets): only 30 rows",
        ),  # fmt: skip
        Case(
            "a cohort whose rows have one class",
            "cohort",
            table(lambda f: f.assign(label=np.where(f["cohort"] == "lung", "yes", f["label"]))),
            "cohort 'lung': its rows hold a single class",
        ),  # fmt: skip
        Case(
            "the other cohorts have one class",
            "cohort",
            table(lambda f: f.assign(label=np.where(f["cohort"] == "lung", f["label"], "no"))),
            "the other cohorts' rows hold a single class",
        ),  # fmt: skip
        Case(
            "3 positives in 300 rows, one per cohort",
            "cohort",
            table(lambda f: f.assign(label=np.where(np.arange(len(f)) < 3, "yes", "no")), rows=300),
            "(evaluation.subsets): the test rows hold a single class",
        ),  # fmt: skip
        Case(
            "subsets name an absent cohort", "cohort", _cohorts(lambda f: f["cohort"], ("liver",)), "'liver'"
        ),
        Case(
            "subsets repeat a cohort",
            "cohort",
            _cohorts(lambda f: f["cohort"], ("lung", "lung")),
            "repeats ['lung']",
        ),
        Case(
            "a cohort name with a slash",
            "cohort",
            _cohorts(lambda f: f["cohort"].str.replace("lung", "lu/ng"), ("lu/ng",)),
            "cannot name a step or a file",
        ),  # fmt: skip
        Case(
            "a cohort name with spaces",
            "cohort",
            _cohorts(lambda f: f["cohort"].str.replace("lung", "small cell"), ("small cell",)),
            "cannot name a step or a file",
        ),  # fmt: skip
        Case(
            "a cohort named '..'",
            "cohort",
            _cohorts(lambda f: f["cohort"].str.replace("lung", ".."), ("..",)),
            "cannot name a step or a file",
        ),  # fmt: skip
        Case(
            "subsets without a group column",
            "cohort",
            table(config={"data": {"group_column": None, "feature_columns": ["g0", "g1"]}}),
            "does not have",
        ),  # fmt: skip
        Case(
            "a cohort of one row",
            "cohort",
            _cohorts(lambda f: np.r_[["one"], f["cohort"][1:]], ()),
            "fewer than split.min_group_size",
        ),  # fmt: skip
        Case("a single cohort, left out", "cohort", _cohorts("lung", ("lung",)), "the only cohort"),
        Case(
            "numeric cohort names",
            "cohort",
            _cohorts(lambda f: np.arange(len(f)) % 3, ("0", "1")),
            ACCEPT,
            "cohort values are compared as text",
        ),  # fmt: skip
        Case(
            "control character in an unlisted cohort",
            "cohort",
            _cohorts(lambda f: f["cohort"].str.replace("breast", "br\x07east"), ("lung",)),
            ACCEPT,
            "a cohort not in evaluation.subsets names no step or file",
        ),  # fmt: skip
        Case(
            "no cohorts and no subsets",
            "cohort",
            table(
                lambda f: f.drop(columns="cohort"),
                config={"data": {"group_column": None}, "evaluation": {"subsets": []}},
            ),
            ACCEPT,
            "cohorts are optional",
        ),  # fmt: skip
    ]
