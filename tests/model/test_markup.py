"""User strings in generated Markdown and plotly text stay the characters they are: rendered by markdown-it with
raw HTML allowed (as a permissive renderer would), each comes back as exactly that text, in a paragraph and in a
table cell, with no element of its own."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from model.markup import markdown_code, markdown_text, plotly_text

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    "x`<img src=y onerror=alert(3)>`",
    "``<b>two</b>``",
    " `lead",
    "[click](javascript:alert(4))",
    "![i](x)",
    "a|b|c",
    "_under_ *star* ~~strike~~",
    "&lt;entity&gt; &#60;",
    "back\\slash\\<i>",
    "seed_accuracy_std",
]
PERMISSIVE = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _inner(rendered: str, tag: str) -> str:
    match = re.fullmatch(rf"<{tag}>(.*)</{tag}>", rendered.strip(), flags=re.S)
    assert match, rendered
    return match.group(1)


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_renders_as_the_same_text_in_a_paragraph_and_a_table_cell(value: str) -> None:
    paragraph = _inner(PERMISSIVE.render(f"before {markdown_text(value)} after"), "p")
    assert "<" not in paragraph and html.unescape(paragraph) == f"before {value} after"
    table = PERMISSIVE.render(f"| name | n |\n|---|---|\n| {markdown_text(value)} | 1 |\n")
    cells = re.findall(r"<td>(.*?)</td>", table, flags=re.S)
    # A table cell trims the spaces around its content, as it does for any text.
    assert len(cells) == 2 and "<" not in cells[0] and html.unescape(cells[0]) == value.strip(), table


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_code_is_one_code_span_holding_the_value(value: str) -> None:
    paragraph = _inner(PERMISSIVE.render(f"reads {markdown_code(value)}, and more"), "p")
    match = re.fullmatch(r"reads <code>(.*)</code>, and more", paragraph, flags=re.S)
    assert match and "<" not in match.group(1) and html.unescape(match.group(1)) == value, paragraph


def test_plotly_text_turns_markup_into_entities_that_plotly_decodes() -> None:
    assert plotly_text("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"
    assert plotly_text("plain_name") == "plain_name"
