"""Every example of README.md and k8s/README.md, run as the docs show it, on tiny data (docs_runs.TINY):

- the synthetic default through `make run` and through the README's `zenml pipeline run` command, on machines of
  three shapes (4 and 2 OpenMP threads, a cgroup CPU quota of one CPU), with identical report numbers;
- the seed profile with a short epoch override (`make run CONFIG=configs/seed.yaml`);
- the README's table snippet as written (label, group, feature list, edge list) and without its label, without
  its group and edge list (`evaluation.subsets: []`), and `kind: breast_cancer`: no crash, the cohort gap N/A;
- a table whose label is also a feature under another name (and recoded beside it): registered, never champion,
  reason given;
- `make retrain`, `make gate`, `make compile` and the README's serving call on the registry those runs filled.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from registry import CHALLENGER, CHAMPION, MODEL_NAME
from tests.integration.docs_runs import (
    REPO,
    TINY,
    TINY_SYNTHETIC,
    cohort_table,
    comparable_summary,
    cpu_cgroup,
    documented,
    environment,
    in_cgroup,
    make,
    merge,
    readme_yaml_snippets,
    remove_cgroup,
    run_dirs,
    write_config,
)

pytestmark = pytest.mark.integration
PIPELINE = "pipelines.causal_experiment.causal_experiment_pipeline"
DEFAULT = {**TINY, "data": TINY_SYNTHETIC, "evaluation": {**TINY["evaluation"], "subsets": ["lung", "colon"]}}


def _table_snippet(workdir: Path) -> dict[str, Any]:
    """The README's table example with its two paths pointing at files this test wrote."""
    (snippet,) = [
        s for s in readme_yaml_snippets() if s["parameters"]["experiment"]["data"]["kind"] == "table"
    ]
    data = snippet["parameters"]["experiment"]["data"]
    table = workdir / Path(data["path"]).name
    cohort_table(table)
    data["path"], data["edges_path"] = str(table), str(workdir / Path(data["edges_path"]).name)
    return snippet


def _run(scenario: dict[str, Any], name: str, result: Any, workdir: Path) -> None:
    before = set(scenario["dirs"])
    scenario["runs"][name] = result
    scenario["dirs"] = run_dirs(workdir) if (workdir / "results").exists() else []
    new = [d for d in scenario["dirs"] if d not in before]
    scenario["folder"][name] = new[-1] if new else None


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("docs")
    scenario: dict[str, Any] = {"workdir": workdir, "runs": {}, "folder": {}, "dirs": [], "configs": {}}
    default = write_config(workdir, "default", REPO / "zenml_config.yaml", DEFAULT)
    # The three machine shapes must each really train: with ZenML's step cache on (as zenml_config.yaml has it),
    # the second and third runs of the same configuration would reuse the first one's steps.
    uncached = yaml.safe_load(default.read_text())
    uncached["enable_cache"] = False
    default.write_text(yaml.safe_dump(uncached, sort_keys=False))
    scenario["configs"]["default"] = default
    _run(
        scenario,
        "default_4",
        make("run", workdir, default, OMP_NUM_THREADS="4", MKL_NUM_THREADS="4"),
        workdir,
    )
    zenml = [str(Path(sys.executable).with_name("zenml")), "pipeline", "run", PIPELINE, "-c", str(default)]
    env = environment(workdir, ZENML_CONFIG_PATH=str(workdir / ".state" / "zenml"), OMP_NUM_THREADS="2")
    import subprocess

    result = subprocess.run(
        zenml, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    _run(scenario, "default_zenml_2", result, workdir)
    group = cpu_cgroup(f"causal-lattice-docs-{os.getpid()}", 1.0)
    scenario["quota"] = group is not None
    argv = [
        "make",
        "--no-print-directory",
        "-C",
        str(REPO),
        "run",
        f"STATE={workdir / '.state'}",
        f"CONFIG={default}",
    ]
    env = environment(workdir, OMP_NUM_THREADS="1")
    try:
        command = in_cgroup(group, argv) if group else argv
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    finally:
        if group:
            remove_cgroup(group)
    _run(scenario, "default_quota_1", result, workdir)

    seed = write_config(
        workdir,
        "seed",
        REPO / "configs" / "seed.yaml",
        merge(
            # The default's data: whichever of the two the registry makes champion, the retrain check and the
            # serving call below use data of its columns.
            TINY,
            {"data": TINY_SYNTHETIC, "train": {"epochs": 1}, "evaluation": {"subsets": ["lung"]}},
        ),
    )
    _run(scenario, "seed_profile", make("run", workdir, seed), workdir)

    snippet = _table_snippet(workdir)
    variants = {
        "table": {},
        "table_no_label": {"data": {"label_column": None}},
        "table_no_group_no_edges": {
            "data": {"group_column": None, "edges_path": None},
            "evaluation": {"subsets": []},
        },
    }
    for name, override in variants.items():
        document = merge(snippet, {"parameters": {"experiment": override}})
        data = document["parameters"]["experiment"]["data"]
        document["parameters"]["experiment"]["data"] = {k: v for k, v in data.items() if v is not None}
        config = write_config(workdir, name, document, TINY)
        scenario["configs"][name] = config
        _run(scenario, name, make("run", workdir, config), workdir)
    cancer = write_config(workdir, "breast_cancer", {}, merge(TINY, {"data": {"kind": "breast_cancer"},
                                                                     "evaluation": {"subsets": []}}))  # fmt: skip
    _run(scenario, "breast_cancer", make("run", workdir, cancer), workdir)

    table = Path(snippet["parameters"]["experiment"]["data"]["path"])
    frame = pd.read_parquet(table)
    # The label under another name and recoded beside it (the label column itself among the features is refused
    # before any training: tests/test_hostile_inputs.py).
    frame["response_copy"] = frame["response"]
    frame["response_code"] = frame["response"] * 2 + 5
    leaky_table = workdir / "leaky.parquet"
    frame.to_parquet(leaky_table, index=False)
    leaky = write_config(workdir, "leaky", {}, merge(TINY, {
        "data": {"kind": "table", "path": str(leaky_table), "label_column": "response",
                 "feature_columns": ["TP53", "KRAS", "EGFR", "response_copy", "response_code"]},
        "evaluation": {"subsets": []},
    }))  # fmt: skip
    _run(scenario, "leaky", make("run", workdir, leaky), workdir)

    scenario["retrain"] = make("retrain", workdir, default)
    scenario["gate"] = make("gate", workdir)
    scenario["compile"] = make("compile", workdir, default)
    return scenario


def _ok(result: Any) -> str:
    assert result.returncode == 0, (result.stdout[-3000:] + result.stderr[-6000:]).strip()
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


def test_the_docs_show_the_commands_tested_here() -> None:
    for command in ("make run", "make gate", "make retrain", "make compile", "CONFIG=configs/seed.yaml",
                    "zenml pipeline run pipelines.causal_experiment.causal_experiment_pipeline", "kind: breast_cancer",
                    "evaluation.subsets: []", 'models:/causal-lattice-transformer@champion"'):  # fmt: skip
        assert documented(command), command


@pytest.mark.parametrize("name", ["default_4", "default_zenml_2", "default_quota_1", "seed_profile", "table",
                                  "table_no_label", "table_no_group_no_edges", "breast_cancer", "leaky"])  # fmt: skip
def test_every_documented_run_completes_with_its_report(docs, name: str) -> None:
    _ok(docs["runs"][name])
    folder = docs["folder"][name]
    assert folder is not None and (folder / "reports" / "summary.html").is_file()
    assert (folder / "reports" / "promotion.md").is_file()


def test_the_default_run_is_identical_on_every_machine_shape(docs) -> None:
    names = ["default_4", "default_zenml_2", "default_quota_1"]
    summaries = {name: comparable_summary(docs["folder"][name]) for name in names}
    assert summaries["default_4"] == summaries["default_zenml_2"] == summaries["default_quota_1"]
    for name in names:
        folder = docs["folder"][name]
        runtime = next(line for line in (folder / "reports" / "summary.md").read_text().splitlines()
                       if line.startswith("- runtime"))  # fmt: skip
        assert "1 intra-op thread(s)" in runtime and "torch " in runtime and "cpu," in runtime, runtime
        log = json.loads((folder / "reproducibility_log.json").read_text())
        assert log["same_seed_identical"] is True
        assert {shape["usable_cpus"] for shape in log["same_seed"][0]["machine_shapes"]} == {1, 2}
        for relative in ("lattice/edges.csv", "subsets/subset_summary.json", "utility/utility_per_epoch.csv"):
            assert (folder / relative).read_bytes() == (docs["folder"]["default_4"] / relative).read_bytes()
        first = json.loads((docs["folder"]["default_4"] / "reproducibility_log.json").read_text())
        assert log["seeds"] == first["seeds"]
    if docs["quota"]:
        summary = (docs["folder"]["default_quota_1"] / "reports" / "summary.md").read_text()
        assert "CPU limit 1" in summary and "1 usable CPU(s)" in summary


@pytest.mark.parametrize("name", ["table_no_group_no_edges", "breast_cancer", "leaky"])
def test_a_gate_the_data_cannot_have_is_not_applicable_with_its_reason(docs, name: str) -> None:
    folder = docs["folder"][name]
    for document in ("summary.md", "promotion.md"):
        text = (folder / "reports" / document).read_text()
        row = next(line for line in text.splitlines() if line.startswith("| subset_accuracy_gap"))
        assert "| N/A |" in row and "evaluation.subsets names 0 cohort(s)" in row, row
        assert "PASS" not in row


def test_the_table_without_a_label_learns_structure_only(docs) -> None:
    promotion = (docs["folder"]["table_no_label"] / "reports" / "promotion.md").read_text()
    assert "Not registered: the data has no label column" in promotion
    summary = (docs["folder"]["table_no_label"] / "reports" / "summary.md").read_text()
    assert "| seed_accuracy_std | n/a |" in summary and "no label column" in summary


def test_the_leaky_model_is_registered_but_never_champion(docs) -> None:
    from mlflow import MlflowClient

    promotion = (docs["folder"]["leaky"] / "reports" / "promotion.md").read_text()
    assert "feature 'response_copy' is a copy of the label" in promotion
    assert "feature 'response_code' is a one-to-one recoding of the label" in promotion
    assert "gate failed: feature_leakage" in promotion and "keep the champion" in promotion
    uri = f"sqlite:///{docs['workdir'] / '.state' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    challenger = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    assert challenger.tags["data.name"] == "leaky" and challenger.version != champion.version
    assert challenger.tags["gate.feature_leakage.passed"] == "false"
    summary = (docs["folder"]["leaky"] / "reports" / "summary.md").read_text()
    assert "- feature_leakage FAILED: feature 'response_copy' is a copy of the label" in summary


def test_make_gate_refuses_the_leaky_challenger(docs) -> None:
    gate = docs["gate"]
    # make exits 2 whenever its recipe fails; the gate's own exit code (1: may not be promoted) is in make's line.
    assert gate.returncode == 2 and "gate] Error 1" in gate.stderr, gate.stdout + gate.stderr
    assert "failing gates: feature_leakage" in gate.stderr


def test_make_retrain_sees_no_drift_against_the_champion(docs) -> None:
    output = _ok(docs["retrain"])
    assert "no retraining:" in output


def test_make_compile_writes_the_kubeflow_yaml(docs) -> None:
    _ok(docs["compile"])
    # The pipeline spec, then kfp-kubernetes' platform spec as a second YAML document.
    compiled, *platform = yaml.safe_load_all((docs["workdir"] / "kubeflow" / "pipeline.yaml").read_text())
    assert compiled["pipelineInfo"]["name"]
    assert all("platforms" in document for document in platform)


def test_the_readme_serving_call_predicts_with_the_champion(docs, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    from model.data.sources import load_dataset
    from model.run_config import read_run_config

    # MLflow's own variables, as a user's shell sets them; restored after the test, so no later test's client
    # reads this registry (mlflow.set_registry_uri would leave MLFLOW_REGISTRY_URI set in this process).
    uri = f"sqlite:///{docs['workdir'] / '.state' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    experiment = read_run_config(docs["configs"]["default"]).require_experiment()
    dataset = load_dataset(experiment.data, experiment.split.min_group_size)
    frame = pd.DataFrame(dataset.features[:20].astype("float64"), columns=dataset.feature_names)
    probabilities = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion").predict(frame)
    assert probabilities.shape == (20, dataset.n_classes)
    assert (probabilities.sum(axis=1).round(5) == 1.0).all()
