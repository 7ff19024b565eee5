"""User strings (feature, cohort, class, data and run names, and the gate reasons that quote them) inside the
Markdown and plotly text this project writes: always shown as the characters they are, never read as markup.

A feature may legally be called `<img src=x onerror=alert(1)>` or carry a backtick; written into Markdown as
it is, a renderer (the report page, MLflow's model-version description, a Git host) would turn it into HTML or
end a code span early, and plotly would read it as its own HTML-like text markup.
"""

from __future__ import annotations

import html
import re

# What can open Markdown markup in the middle of a line: raw HTML and entities (<, &), code spans (`), links
# and images ([ ]), emphasis and strike-through (* ~, and _ unless it stands between two letters or digits,
# where CommonMark never reads it as emphasis: `feature_columns` stays readable), table cell borders (|), and
# the escape itself (\). A `>` opens nothing once every `<` is escaped (a quote only at a line's start).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<&|~]|(?<![^\W_])_|_(?![^\W_]))")
_BACKTICKS = re.compile(r"`+")


def markdown_text(value: str) -> str:
    """`value` as Markdown text that CommonMark and GitHub-flavoured renderers show as exactly `value`, also
    inside a table cell."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)


def markdown_code(value: str) -> str:
    """`value` as an inline code span (outside tables): fenced by more backticks than the longest run inside it,
    and padded with a space where it starts or ends with one, as CommonMark prescribes. Inside a code span no
    HTML, entity or emphasis is recognised."""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(value)), default=0) + 1)
    padding = " " if value.startswith(("`", " ")) or value.endswith(("`", " ")) else ""
    return f"{fence}{padding}{value}{padding}{fence}"


def plotly_text(value: str) -> str:
    """`value` for a plotly label, legend, hover or axis text: plotly reads `<b>`, `<br>`, `<a href>` ... in
    those as formatting and decodes entities, so `<`, `>` and `&` become entities and show as themselves."""
    return html.escape(value, quote=False)
