"""The interactive report of a real pipeline run, opened in a real browser: Debian's chromium driven by Playwright.

Both pages (English `summary.html`, Japanese `summary.ja.html`) load from disk with every network request
refused and no console error; every section and figure renders non-empty plot elements; hovering the attention
heatmap and a lattice node shows feature names; a full-page screenshot of each is saved under
`build/test-artifacts/` (or $TEST_ARTIFACTS). The pages of a run whose feature, class, cohort, data and profile
names carry scripts (tests/integration/hostile_names.py) run none of them and show every name as text. `make test`
and `.ci/run` install chromium (`make browser`); without it these tests fail, they are never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.integration.hostile_names import CLASSES, COHORTS, DATA_STEM, FEATURES, LEAKY, OTHER_GROUP, PROFILE

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "build" / "test-artifacts"))
# Chromium as root in a container, with nothing that phones home (the machine has no network beyond
# registries: background connections would only add noise).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
FIGURES = ["attention", "latent-tsne", "latent-pca", "lattice", "degrees", "utility", "repro", "cohorts"]
PAGES = {"en": "summary.html", "ja": "summary.ja.html"}
MAX_BYTES = 10 * 1024 * 1024
# Before any script of the page: every way a payload would show itself (a dialog, a script of its own) is recorded.
TRAP = """window.__xss = [];
for (const name of ['alert', 'confirm', 'prompt', 'print', 'open']) {
  window[name] = (...args) => { window.__xss.push(name + '(' + args.join(',') + ')'); };
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Opened:
    def __init__(self, page: Page, problems: list[str], requests: list[str]) -> None:
        self.page, self.problems, self.requests = page, problems, requests


def _open(browser: Browser, path: Path) -> Opened:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(TRAP)
    problems: list[str] = []
    requests: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))

    def refuse(route) -> None:  # offline: anything but the file itself is refused and recorded
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    page.route("**/*", refuse)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        "ids => ids.every(id => document.getElementById('plot-' + id)?._fullLayout)", arg=FIGURES
    )
    return Opened(page, problems, requests)


def _hover_lines(
    page: Page, figure: str, x_share: float, y_share: float, target: str = ".nsewdrag"
) -> list[str]:
    """Move the mouse to a point of `figure` (shares of `target`'s box) and read plotly's hover label, line by
    line (an SVG text of tspans)."""
    page.locator(f"#plot-{figure}").scroll_into_view_if_needed()
    box = page.locator(f"#plot-{figure} {target}").first.bounding_box()
    assert box is not None, (figure, target)
    page.mouse.move(box["x"] + box["width"] * x_share, box["y"] + box["height"] * y_share)
    label = page.locator(f"#plot-{figure} .hoverlayer .hovertext").first
    label.wait_for(timeout=5000)
    return label.evaluate(
        "el => { const lines = [...el.querySelectorAll('text.nums tspan.line')].map(t => t.textContent);"
        " return lines.length ? lines : [el.querySelector('text.nums').textContent]; }"
    )


@pytest.mark.parametrize("language", sorted(PAGES))
def test_report_renders_every_figure_offline_and_hover_names_features(two_runs, browser, language) -> None:
    _, runs, _ = two_runs
    run = runs[0]
    path = run / "reports" / PAGES[language]
    html = path.read_text()
    assert path.stat().st_size < MAX_BYTES
    assert html.count("plotly.js v") == 1 and "<script src" not in html  # the library inlined once
    opened = _open(browser, path)
    page = opened.page
    assert opened.problems == [] and opened.requests == []
    # The seed's VII table and the gate verdicts come first, then every figure section.
    tables = page.locator("main#summary table")
    assert tables.count() >= 3
    first_header = tables.first.locator("th").all_inner_texts()
    expected = {"en": ["experiment", "observation", "measured", "interpretation"],
                "ja": ["実験名", "主観的観察", "定量結果", "考察"]}  # fmt: skip
    assert first_header == expected[language]
    assert [cell.split()[0] for cell in tables.first.locator("tbody tr td:first-child").all_inner_texts()] == [
        "Exp-1", "Exp-2", "Exp-3", "Exp-4", "Exp-5", "VI.3"
    ]  # fmt: skip
    for figure in FIGURES:
        plot = page.locator(f"#plot-{figure}")
        assert plot.is_visible(), figure
        box = plot.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 200, figure
        drawn = page.evaluate(
            """id => { const gd = document.getElementById('plot-' + id);
            const marks = gd.querySelectorAll('.trace path.point, .trace path.js-line, .hm image, .trace .point');
            return {traces: gd._fullData.filter(t => t.visible !== false).length, marks: marks.length}; }""",
            figure,
        )
        assert drawn["traces"] > 0 and drawn["marks"] > 0, (figure, drawn)
    features = [
        str(c) for c in pd.read_csv(run / "visuals/attention/attention_weight.csv", index_col=0).columns
    ]
    n = len(features)
    row, column = 2 * n // 3, n // 3  # the middle of a cell; rows run top to bottom, columns left to right
    lines = _hover_lines(page, "attention", (column + 0.5) / n, (row + 0.5) / n)
    assert lines[0].endswith(f": {features[row]}") and lines[1].endswith(f": {features[column]}"), lines
    lines = _hover_lines(page, "lattice", 0.5, 0.5, target=".scatterlayer .trace:last-of-type path.point")
    assert lines[0] in [*features, "[label]"], lines
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"summary.{language}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    page.close()


def test_japanese_and_english_pages_give_the_same_gate_verdicts(two_runs, browser) -> None:
    _, runs, _ = two_runs
    verdicts = {}
    for language, name in PAGES.items():
        opened = _open(browser, runs[0] / "reports" / name)
        rows = opened.page.locator("main#summary table").nth(-1).locator("tbody tr")
        verdicts[language] = [
            (cells[0], "PASS" in cells[3])
            for cells in (row.locator("td").all_inner_texts() for row in rows.all())
        ]
        opened.page.close()
    assert [name for name, _ in verdicts["en"]] == [
        "seed_accuracy_std", "subset_accuracy_gap", "flops_reduction", "routed_accuracy_drop", "feature_leakage",
        "perfect_accuracy",
    ]  # fmt: skip
    assert verdicts["en"] == verdicts["ja"]


@pytest.mark.parametrize("language", sorted(PAGES))
def test_script_bearing_names_run_nothing_and_show_as_text(hostile_run, browser, language) -> None:
    opened = _open(browser, hostile_run.folder / "reports" / PAGES[language])
    page = opened.page
    page.wait_for_timeout(500)  # an image's onerror fires after load
    assert opened.problems == [] and opened.requests == []
    assert page.evaluate("window.__xss") == []
    found = page.evaluate(
        """() => ({
        scripts: document.scripts.length,
        figures: document.querySelectorAll('section.figure').length,
        html_elements: [...document.querySelectorAll('main#summary *')].map(e => e.tagName.toLowerCase()),
        handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
            .filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name)),
        javascript_links: [...document.querySelectorAll('[href]')]
            .filter(e => /^\\s*javascript:/i.test(e.getAttribute('href'))).length,
        summary: document.querySelector('main#summary').innerText,
        ticks: [...document.querySelectorAll('#plot-attention .xtick text')].map(t => t.textContent),
        cohort_ticks: [...document.querySelectorAll('#plot-cohorts .xtick text')].map(t => t.textContent),
        legend: [...document.querySelectorAll('#plot-latent-pca .legendtext')].map(t => t.textContent),
        nodes: [...document.querySelectorAll('#plot-lattice .textpoint text')].map(t => t.textContent),
    })"""
    )
    # plotly.js, then one script per figure; the summary is text structure only.
    assert found["scripts"] == 1 + found["figures"]
    assert set(found["html_elements"]) <= {"h1", "h2", "ul", "li", "p", "strong", "code", "table", "thead",
                                           "tbody", "tr", "th", "td", "a"}  # fmt: skip
    assert found["handlers"] == [] and found["javascript_links"] == 0
    features = [*FEATURES, LEAKY]
    assert repr(LEAKY) in found["summary"] and PROFILE in found["summary"] and DATA_STEM in found["summary"]
    assert all(cohort in found["summary"] for cohort in COHORTS)
    assert sorted(found["ticks"]) == sorted(features)
    assert sorted(found["cohort_ticks"]) == sorted(COHORTS)
    assert any(CLASSES[0] in text for text in found["legend"]), found["legend"]
    assert any(OTHER_GROUP in text for text in found["legend"]), found["legend"]
    assert set(found["nodes"]) >= set(features), found["nodes"]
    n = len(features)
    lines = _hover_lines(page, "attention", 0.5 / n, 0.5 / n)  # the top-left cell: the first feature twice
    columns = [
        str(c)
        for c in pd.read_csv(
            hostile_run.folder / "visuals/attention/attention_weight.csv", index_col=0
        ).columns
    ]
    assert lines[0].endswith(f": {columns[0]}") and lines[1].endswith(f": {columns[0]}"), lines
    assert page.evaluate("window.__xss") == [] and opened.problems == []
    page.close()
