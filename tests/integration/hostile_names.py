"""A table whose every name is script-bearing, and how to tell that Markdown made from it stays inert.

Feature names, label classes, a group value, the data file's name and the configuration profile are free text
(validation only refuses control characters and empty names); the cohorts named in `evaluation.subsets` must be
letters, digits, `_`, `.` and `-` (they become step and file names), so those two are the most hostile legal
ones: names of JavaScript's own object properties.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from markdown_it import MarkdownIt

from tests.integration.docs_runs import TINY, merge

FEATURES = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    "x`<img src=y onerror=alert(3)>`",  # a backtick ends a one-backtick code span early
    "[link](javascript:alert(4))",
    '<a href="javascript:alert(5)">a</a>',
]
LEAKY = "<svg onload=alert(6)>"  # the label recoded 0/1: the feature_leakage gate names it in its reason
CLASSES = ["<i onmouseover=alert(7)>yes</i>", "no"]
COHORTS = ["constructor", "hasOwnProperty"]  # in evaluation.subsets
OTHER_GROUP = "<img src=z onerror=alert(8)>"  # a group value not in evaluation.subsets: free text
DATA_STEM = "<img src=d onerror=alert(9)>"  # the data file's name (no '/'), shown as the data's name
PROFILE = "<img src=p onerror=alert(10)>"
LABEL, GROUP = "response", "cancer_type"
ROWS_PER_GROUP = 80


@dataclass(frozen=True)
class HostileRun:
    workdir: Path
    folder: Path  # results/<run>
    tracking_uri: str  # the local stack's MLflow store


def write_hostile_table(workdir: Path) -> Path:
    """The table (with a leaky feature) and a tiny run configuration with both report languages; its path."""
    rng = np.random.default_rng(3)
    groups = np.repeat([*COHORTS, OTHER_GROUP], ROWS_PER_GROUP)
    values = rng.normal(size=(len(groups), len(FEATURES)))
    values[:, 1] += 0.8 * values[:, 0]
    positive = values[:, 0] - values[:, 2] + 0.7 * rng.normal(size=len(groups)) > 0
    frame = pd.DataFrame(values, columns=FEATURES)
    frame[LEAKY] = positive.astype(int)
    frame[LABEL] = np.where(positive, CLASSES[0], CLASSES[1])
    frame[GROUP] = groups
    table = workdir / f"{DATA_STEM}.csv"
    frame.to_csv(table, index=False)
    experiment = merge(
        copy.deepcopy(TINY),
        {
            "profile": PROFILE,
            "data": {
                "kind": "table",
                "path": str(table),
                "feature_columns": [*FEATURES, LEAKY],
                "label_column": LABEL,
                "group_column": GROUP,
            },
            "split": {"test_fraction": 0.25, "min_group_size": 20},
            "evaluation": {"subsets": COHORTS},
            "report": {"language": "both"},
            "results_dir": str(workdir / "results"),
        },
    )
    config = workdir / "hostile.yaml"
    config.write_text(yaml.safe_dump({"enable_cache": False, "parameters": {"experiment": experiment}}))
    return config


# What Markdown of this project may render to: text structure only.
STRUCTURE = {"h1", "h2", "h3", "p", "ul", "ol", "li", "strong", "em", "code", "table", "thead", "tbody", "tr",
             "th", "td", "a", "hr"}  # fmt: skip


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def rendered(markdown: str) -> tuple[list[tuple[str, list[tuple[str, str | None]]]], str]:
    """`markdown` rendered as a permissive renderer would (raw HTML passed through): its elements with their
    attributes, and its text."""
    parser = _Elements()
    parser.feed(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    parser.close()
    return parser.elements, "".join(parser.text)


def inert_problems(markdown: str) -> list[str]:
    """What in `markdown` a renderer would turn into something other than text structure: foreign elements,
    event-handler attributes, links to anything but relative files."""
    problems = []
    elements, _ = rendered(markdown)
    for tag, attrs in elements:
        if tag not in STRUCTURE:
            problems.append(f"element <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or (name == "href" and ":" in (value or "")):
                problems.append(f"<{tag} {name}={value!r}>")
    return problems
