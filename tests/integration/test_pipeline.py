"""The real pipeline on the real local ZenML stack (isolated store per test module), on a tiny config."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.integration.zenml_env import RUN_OUTPUTS, SPEC_FILES, TINY_CONFIG, run_pipeline, zenml_query

# `two_runs` (tests/integration/conftest.py): two runs of the tiny config started at once in one working directory,
# the first two steps at a time in worker processes, the second one step at a time.

pytestmark = pytest.mark.integration

TRAININGS = [
    "train",
    "repro_seed_42",
    "repro_seed_43",
    "subset_lung",
    "subset_colon",
    "subset_breast",
    "logo_lung",
    "logo_colon",
    "logo_breast",
]


def _digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_every_protocol_file_exists_and_is_well_formed(two_runs) -> None:
    _, runs, _ = two_runs
    run = runs[0]
    for relative in SPEC_FILES:
        assert (run / relative).is_file(), relative
    for png in run.rglob("*.png"):
        with Image.open(png) as image:
            image.verify()
    n_features = 8 + 2  # tiny config: genes + biomarkers
    attention = pd.read_csv(run / "visuals/attention/attention_weight.csv", index_col=0)
    assert attention.shape == (n_features, n_features)
    assert list(attention.index) == list(attention.columns)
    assert attention.sum(axis=1).round(4).eq(1.0).all()
    repro = json.loads((run / "reproducibility_log.json").read_text())
    assert {"same_seed", "same_seed_identical", "accuracy_std", "seeds", "passed"} <= set(repro)
    assert repro["same_seed_identical"] is True
    assert set(repro["seeds"]) == {"42", "43"}
    stats = json.loads((run / "latent/z_stat.json").read_text())
    assert -1.0 <= stats["silhouette"] <= 1.0
    subsets = json.loads((run / "subsets/subset_summary.json").read_text())
    assert set(subsets["group_accuracy"]) == set(subsets["logo_accuracy"]) == {"lung", "colon", "breast"}
    # the synthetic data knows the label's parents: each cohort's retraining stands beside its causal ceiling
    assert set(subsets["group_ceiling_accuracy"]) == {"lung", "colon", "breast"}
    ceilings = subsets["group_ceiling_accuracy"].values()
    assert subsets["ceiling_accuracy_gap"] == pytest.approx(max(ceilings) - min(ceilings))
    flops = pd.read_csv(run / "utility/flops_log.csv")
    assert set(flops["mode"]) == {"dense", "routed"}
    assert (flops["flops"] > 0).all()
    grads = {p.stem for p in (run / "logs/grad").glob("*.json")}
    assert grads == set(TRAININGS)
    gradient_log = json.loads((run / "logs/grad/train.json").read_text())
    assert len(gradient_log["head.weight"]) == 2  # one value per epoch of the predictor
    assert 2 <= len(gradient_log["structure.edge_logits"]) <= 3  # one per round of the structure phase


def test_summary_table_holds_measured_numbers(two_runs) -> None:
    _, runs, _ = two_runs
    summary = (runs[0] / "reports/summary.md").read_text()
    table = [line for line in summary.splitlines() if line.startswith("| Exp-")]
    assert [row.split("|")[1].strip() for row in table] == ["Exp-1", "Exp-2", "Exp-3", "Exp-4", "Exp-5"]
    assert re.search(r"KL=\d+\.\d+", summary)
    assert re.search(r"Silhouette=-?\d+\.\d+", summary)
    assert re.search(r"DegreeVar=\d+\.\d+", summary)
    assert re.search(r"FLOPs reduction=-?\d+\.\d%", summary)
    gate_rows = [
        line for line in summary.splitlines() if line.startswith("| ") and ("PASS" in line or "FAIL" in line)
    ]
    # The four gates of docs/design.md §5 and the two against leakage, each with a verdict (every one applies
    # to this data).
    assert [row.split("|")[1].strip() for row in gate_rows] == [
        "seed_accuracy_std",
        "subset_accuracy_gap",
        "flops_reduction",
        "routed_accuracy_drop",
        "feature_leakage",
        "perfect_accuracy",
    ]
    assert "runtime (main model): cpu, 1 intra-op thread(s)" in summary and "world size 1, torch" in summary
    assert "tiny-test" in summary  # names the configuration that produced it
    for link in re.findall(r"\]\(\.\./([^)]+)\)", summary):
        assert (runs[0] / link).is_file(), link


def test_two_runs_at_once_keep_separate_results(two_runs) -> None:
    """Started at the same moment in one checkout: two run folders with the same complete set of files, each
    report naming its own run (neither wrote into the other's folder), and `latest` on one of them."""
    workdir, runs, _ = two_runs
    assert len(runs) == 2
    assert set(_digest(runs[0])) == set(_digest(runs[1]))
    for run in runs:
        other = next(r for r in runs if r != run)
        summary = (run / "reports" / "summary.md").read_text()
        assert run.name in summary and other.name not in summary
    latest = workdir / "results" / "latest"
    assert latest.is_symlink() and latest.resolve() in {r.resolve() for r in runs}


def test_steps_side_by_side_write_the_same_numbers_as_one_at_a_time(two_runs) -> None:
    """The first run ran two steps at a time in worker processes, the second one step at a time: every number
    they wrote (CSV, JSON, NumPy files) is the same, bit for bit, but the forward passes' wall times."""
    _, runs, outputs = two_runs
    assert "(2 steps at a time)" in outputs[0] and "started in worker process" in outputs[0]
    assert "started in worker process" not in outputs[1]
    numbers = [
        {name: digest for name, digest in _digest(run).items() if name.endswith((".csv", ".json", ".npz"))}
        for run in runs
    ]
    timed = "utility/flops_log.csv"
    assert {name for name in numbers[0] if name != timed} >= {
        "reproducibility_log.json",
        "logs/grad/train.json",
    }
    assert {k: v for k, v in numbers[0].items() if k != timed} == {
        k: v for k, v in numbers[1].items() if k != timed
    }
    flops = [pd.read_csv(run / timed).drop(columns="forward_s") for run in runs]
    pd.testing.assert_frame_equal(flops[0], flops[1])


def test_each_step_is_a_zenml_run_with_versioned_artifacts(two_runs) -> None:
    workdir, runs, _ = two_runs
    zenml_runs = zenml_query(workdir, RUN_OUTPUTS)
    assert len(zenml_runs) == 2
    for record in zenml_runs:
        assert record["status"] == "completed"
        steps = record["steps"]
        for name in TRAININGS:
            assert steps[name] == ["trained_model"]
        assert steps["load_data"] == ["data_splits", "dataset"]
        assert steps["extract_attention"] == ["attention_result"]
        assert steps["embed_latent"] == ["latent_result"]
        assert steps["analyze_lattice"] == ["lattice_graph", "lattice_result"]
        assert steps["measure_utility"] == ["utility_result"]
        assert steps["repro_check"] == ["reproducibility_result"]
        assert steps["subset_generalization"] == ["subset_result"]
        assert {"promotion_verdict", "summary", "summary_html"} <= set(steps["report"])
    assert {r["name"] for r in zenml_runs} == {p.name for p in runs}


def test_artifacts_load_back_through_the_materializers(two_runs) -> None:
    workdir, runs, _ = two_runs
    code = f"""
import json, torch
from zenml.client import Client
run = Client().get_pipeline_run({runs[0].name!r})
model = run.steps["train"].outputs["trained_model"][0].load()
graph = run.steps["analyze_lattice"].outputs["lattice_graph"][0].load()
attention = run.steps["extract_attention"].outputs["attention_result"][0].load()
split = run.steps["load_data"].outputs["data_splits"][0].load().main
x = torch.from_numpy(split.test.features)
print(json.dumps({{"accuracy": model.test_metrics["accuracy"], "nodes": sorted(graph.nodes),
    "features": sorted(model.model.feature_names), "files": sorted(attention.files),
    "predicts": list(model.model.predict_proba(x).shape)}}))
"""
    loaded = zenml_query(workdir, code)
    assert loaded["nodes"] == loaded["features"]
    assert "visuals/attention/attention_weight.csv" in loaded["files"]
    assert 0.0 <= loaded["accuracy"] <= 1.0
    assert loaded["predicts"][1] == 2


BAD_CONFIGS = {
    "unknown_key": ({"train": {"epochz": 3}}, "parameters.experiment.train.epochz: unknown key"),
    "wrong_type": ({"train": {"batch_size": "big"}}, "parameters.experiment.train.batch_size"),
    "bad_value": ({"train": {"lr": -1.0}}, "parameters.experiment.train.lr"),
    "bad_dims": ({"model": {"d_model": 30, "n_heads": 4}}, "divisible"),
    "missing_data_file": ({"data": {"kind": "table", "path": "nope.csv"}}, "nope.csv does not exist"),
    "unknown_subset": ({"evaluation": {"subsets": ["liver"]}}, "liver"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_stops_before_any_step(case: str, tmp_path: Path) -> None:
    override, message = BAD_CONFIGS[case]
    document = yaml.safe_load(TINY_CONFIG.read_text())
    for key, value in override.items():
        merged = {**document["parameters"]["experiment"].get(key, {}), **value}
        document["parameters"]["experiment"][key] = value if key == "data" else merged
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(document))
    result = run_pipeline(tmp_path, config, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "zenml").exists()  # ZenML was never started


def test_bad_data_stops_before_training(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0] * 30, "b": [0.5, float("nan")] * 30, "label": [0, 1] * 30})
    frame.to_csv(tmp_path / "cohort.csv", index=False)
    document = yaml.safe_load(TINY_CONFIG.read_text())
    document["parameters"]["experiment"]["data"] = {
        "kind": "table",
        "path": str(tmp_path / "cohort.csv"),
        "label_column": "label",
    }
    document["parameters"]["experiment"]["evaluation"]["subsets"] = []
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(document))
    result = run_pipeline(tmp_path, config, timeout=120)
    assert result.returncode == 2
    assert "feature 'b' has a non-finite value (nan) at row 1" in result.stderr
    assert not (tmp_path / "results").exists()
