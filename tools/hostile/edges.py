"""Hostile ground-truth edge lists."""

from __future__ import annotations

import gzip

from tools.hostile.common import ACCEPT, Case, config_change, edge_frame, edges


def edge_cases() -> list[Case]:
    good = edge_frame(("g0", "g1"), ("g1", "g2"))
    return [
        Case("edge list empty file", "edge list", edges(b""), "edge list"),
        Case("edge list without edges", "edge list", edges(b"source,target\n"), "has a header but no rows"),
        Case(
            "self loop", "edge list", edges(edge_frame(("g0", "g1"), ("g2", "g2"))), "self loop 'g2' -> 'g2'"
        ),
        Case(
            "two-node cycle",
            "edge list",
            edges(edge_frame(("g0", "g1"), ("g1", "g0"))),
            "has a cycle (g0 -> g1 -> g0)",
        ),  # fmt: skip
        Case(
            "three-node cycle",
            "edge list",
            edges(edge_frame(("g0", "g1"), ("g1", "g2"), ("g2", "g0"))),
            "has a cycle",
        ),  # fmt: skip
        Case("unknown node", "edge list", edges(edge_frame(("g0", "BRCA9"))), "names 'BRCA9'"),
        Case("names the label", "edge list", edges(edge_frame(("g0", "label"))), "names 'label'"),
        Case(
            "missing target column",
            "edge list",
            edges(b"source,to\ng0,g1\n"),
            "needs columns 'source' and 'target'",
        ),  # fmt: skip
        Case("repeated edge", "edge list", edges(edge_frame(("g0", "g1"), ("g0", "g1"))), "repeats the edge"),
        Case("empty endpoint", "edge list", edges(b"source,target\ng0,\n"), "empty source or target"),
        Case("latin-1 byte", "edge list", edges(b"source,target\ng\xe9,g1\n"), "is not UTF-8 text"),
        Case(
            "gzip named .csv", "edge list", edges(gzip.compress(b"source,target\ng0,g1\n")), "gzip-compressed"
        ),
        Case(
            "ragged row",
            "edge list",
            edges(b"source,target\ng0,g1,g2,g3\ng1,g2\n"),
            "line 2 has 4 field(s) and the header 2",
        ),
        Case(
            "missing file",
            "edge list",
            config_change({"data": {"edges_path": "/nonexistent/edges.csv"}}),
            "edge list /nonexistent/edges.csv does not exist",
        ),  # fmt: skip
        Case("a DAG", "edge list", edges(good), ACCEPT, "a DAG over features"),
        Case(
            "a DAG with a weight column",
            "edge list",
            edges(good.assign(weight=[0.3, 0.9])),
            ACCEPT,
            "extra columns are ignored",
        ),  # fmt: skip
        Case("a DAG as Parquet", "edge list", edges(good, ".parquet"), ACCEPT, "Parquet is read like CSV"),
    ]
