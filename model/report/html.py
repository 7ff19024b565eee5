"""The run summary as one self-contained interactive page: the Markdown (VII table and gate verdicts at the top)
rendered, then every figure as a plotly chart, with plotly.js inlined once. No network is needed to open it."""

from __future__ import annotations

import html

import plotly.io as pio
from markdown_it import MarkdownIt
from plotly.offline import get_plotlyjs

from model.report.figures import Figure

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
    "th{background:#f3f3f3}section.figure{margin:2em 0}nav a{margin-right:1em}"
)


def render_html(markdown: str, title: str, figures: list[Figure], language: str = "en") -> str:
    """`markdown`: the summary (without its list of static figures); `figures`: (id, title, plotly figure)."""
    # Raw HTML in the Markdown is shown as text, never passed through: the summary quotes user strings.
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    navigation = "".join(f'<a href="#{html.escape(key)}">{html.escape(name)}</a>' for key, name, _ in figures)
    sections = "".join(
        f'<section class="figure" id="{html.escape(key)}"><h2>{html.escape(name)}</h2>'
        + pio.to_html(
            figure,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"plot-{key}",
            config={"displaylogo": False, "responsive": True},
        )
        + "</section>"
        for key, name, figure in figures
    )
    return (
        f"<!doctype html><html lang='{language}'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f'<body><main id="summary">{body}</main><nav id="figures">{navigation}</nav>{sections}</body></html>'
    )
