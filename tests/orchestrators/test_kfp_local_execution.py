"""The compiled pipeline, run task by task as local processes, each in a working directory of its own as pods
would (docs/design.md §6): it completes a real ZenML run, and the report task's HTML holds every figure
although the report's directory holds none of the files the other tasks wrote.

Compiles the pipeline under test with the tiny configuration into a fresh ZenML store, then runs every task's
container command + args from the YAML (`python -m tools kfp-run`) against that store. This is slow (one
Python process per step invocation), hence `integration`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.orchestrators.kfp_testlib import PIPELINE_UNDER_TEST, compile_under_test, run_module
from tools.kfp_ir import read_pipeline

pytestmark = pytest.mark.integration


@dataclass
class LocalRun:
    tasks: set[str]
    summary: dict[str, Any]
    work: Path
    output: str


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> LocalRun:
    tmp_path = tmp_path_factory.mktemp("kfp-local")
    # One repro seed and one cohort: every kind of task and the fan-out's shape (the repro seed's and the
    # cohort's trainings beside the main one) in 13 processes instead of the tiny config's 18.
    document = yaml.safe_load(PIPELINE_UNDER_TEST.tiny_config.read_text())
    document["parameters"]["experiment"]["evaluation"].update(repro_seeds=[42], subsets=["lung"])
    config = tmp_path / "tiny_one_cohort.yaml"
    config.write_text(yaml.safe_dump(document))
    compiled = compile_under_test(tmp_path, config, cron=None)
    summary_file, work = tmp_path / "summary.json", tmp_path / "work"
    proc = run_module(
        "tools",
        [
            "kfp-run", str(compiled.yaml),
            "--source-root", str(PIPELINE_UNDER_TEST.source_root),
            "--workdir", str(work),
            "--run-id", "local-kfp-run-0001",
            "--check-zenml",
            "--json-out", str(summary_file),
        ],
        compiled.env,
        timeout=3600,
    )  # fmt: skip
    assert summary_file.exists(), f"kfp-run failed to start:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    summary = json.loads(summary_file.read_text())
    failed = {name: t for name, t in summary["tasks"].items() if t["status"] != "completed"}
    logs = {name: Path(t["log"]).read_text()[-3000:] for name, t in failed.items() if t.get("log")}
    assert proc.returncode == 0 and not failed, f"tasks not completed: {failed}\n{logs}"
    return LocalRun(set(read_pipeline(compiled.yaml).tasks), summary, work, proc.stdout)


def test_compiled_tasks_complete_a_zenml_run(local_run: LocalRun) -> None:
    assert set(local_run.summary["order"]) == local_run.tasks
    runs = local_run.summary["zenml"]["runs"]
    assert len(runs) == 1, runs  # all steps joined the one run of this KFP run id
    assert runs[0]["status"] == "completed"
    assert set(runs[0]["steps"]) == local_run.tasks
    assert set(runs[0]["steps"].values()) == {"completed"}


def _files(task_dir: Path) -> dict[str, bytes]:
    """What a task wrote under results/<run>/, by path relative to the run folder."""
    return {
        str(path.relative_to(run)): path.read_bytes()
        for run in (task_dir / "results").glob("*")
        if run.is_dir() and not run.is_symlink()
        for path in run.rglob("*")
        if path.is_file()
    }


def test_report_in_its_own_directory_embeds_every_figure(local_run: LocalRun) -> None:
    written = {task: _files(local_run.work / task) for task in local_run.tasks}
    # The summary (in each configured language) and the model card, all under reports/ and nothing else.
    assert {"reports/summary.md", "reports/summary.html", "reports/model_card.md"} <= set(written["report"])
    assert all(path.startswith("reports/") for path in written["report"])
    assert set(written["promote"]) == {"reports/promotion.md"}
    producers = {task for task, files in written.items() if any(p.endswith(".png") for p in files)}
    assert producers == {"extract_attention", "embed_latent", "analyze_lattice", "measure_utility",
                         "repro_check", "subset_generalization"}  # fmt: skip
    html = written["report"]["reports/summary.html"].decode()
    # Every protocol step's figure is drawn in the page from the data in its artifacts (plotly, its library
    # inlined): nothing is read from another task's disk and nothing is linked.
    sections = set(re.findall(r'<section class="figure" id="([^"]+)">', html))
    assert {"attention", "lattice", "degrees", "utility", "repro", "cohorts"} <= sections
    assert any(section.startswith("latent-") for section in sections)
    for section in sections:
        assert f'<div id="plot-{section}" class="plotly-graph-div"' in html, section
    assert not re.search(r'<(img|script)[^>]*src="(?!data:)', html), "the page links an external file"
