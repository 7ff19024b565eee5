"""The real pipeline against a real `mlflow server`: tracking, registry, promotion gate, outage and recovery.

One server (SQLite backend and artifacts in tmp) and one isolated ZenML store serve the whole module. The
scenario runs once, in order, as a module fixture; each test checks one promise on what it recorded:

1. a run whose gates cannot pass (min_flops_reduction 1.0) -> registered as `challenger`, never `champion`;
2. a run whose gates pass -> the new `champion`;
3. the server goes down -> the next run fails at its first MLflow step naming the URI, after load_data's
   ZenML artifacts were stored;
4. the server is back (same store) -> a rerun completes; it is compared with the champion on the same held-out
   data and, at least as good, takes `champion`;
5. the same configuration pointed at a second, empty server B (`MLFLOW_TRACKING_URI=B`, as `make run` does it:
   `python -m tools local-stack`, then `causal-lattice run`) -> B gets the whole run and one registered version,
   A is unchanged; run again against B -> fully cached, nothing new on B.

Every pipeline run is `zenml pipeline run pipelines.causal_experiment.causal_experiment_pipeline -c <config>`
in a subprocess (cwd tmp, so results/ land there), on the stack `python -m tools local-stack` registered with
`MLFLOW_TRACKING_URI` pointing at the server. The configs are tests/data/tiny_config.yaml with one repro seed
and one cohort, to keep the four runs within a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from registry import CHALLENGER, CHAMPION, MLFLOW_EXPERIMENT, MODEL_NAME
from tests.integration.mlflow_scenario import (
    PROTOCOL_FILES,
    SUBSET,
    TINY_CONFIG,
    TRAININGS,
    MlflowServer,
    Scenario,
    free_port,
    registry_state,
    run,
    zenml_query,
)
from tests.integration.zenml_env import CAUSAL_LATTICE, LOCAL_STACK

pytestmark = pytest.mark.integration

TRACKED_STEPS = {*TRAININGS, "extract_attention", "embed_latent", "analyze_lattice", "measure_utility",
                 "repro_check", "subset_generalization", "report", "promote"}  # fmt: skip


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def _assert_ok(scenario: Scenario, name: str) -> None:
    result = scenario.runs[name]
    assert result.returncode == 0, _output(result)[-6000:]


def _pipeline_runs(scenario: Scenario) -> list[dict[str, Any]]:
    return zenml_query(
        scenario,
        "import json\nfrom zenml.client import Client\n"
        "runs = Client().list_pipeline_runs(sort_by='asc:created', size=50).items\n"
        "print(json.dumps([{'name': r.name, 'id': str(r.id), 'status': str(r.status.value),\n"
        "  'steps': {n: {'status': str(s.status.value), 'outputs': sorted(s.outputs)}\n"
        "            for n, s in r.steps.items()}}\n"
        "  for r in runs]))",
    )


def test_runs_params_metrics_and_artifacts_are_on_the_server(scenario: Scenario) -> None:
    from mlflow import MlflowClient

    _assert_ok(scenario, "failing")
    client = MlflowClient(tracking_uri=scenario.server.uri)
    experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
    assert experiment is not None
    run_name = _pipeline_runs(scenario)[0]["name"]
    runs = client.search_runs([experiment.experiment_id], f"tags.zenml_run = '{run_name}'", max_results=100)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]  # one parent per pipeline run, no duplicates
    parent = parents[0]
    assert parent.info.run_name == run_name and parent.info.status == "FINISHED"
    children = {
        r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    assert set(children) == TRACKED_STEPS
    for name, child in children.items():
        assert child.data.tags["zenml_step"] == name and child.data.tags["zenml_run"] == run_name

    # The whole validated config as dotted params on the parent; each training's own seed and view.
    assert parent.data.params["gates.min_flops_reduction"] == "1.0"
    assert parent.data.params["train.lambdas.causal"] == "0.5"
    assert parent.data.params["evaluation.subsets"] == json.dumps([SUBSET])
    logo = children[f"logo_{SUBSET}"]
    assert logo.data.params["view"] == f"logo:{SUBSET}" and logo.data.tags["view"] == f"logo:{SUBSET}"
    assert children["repro_seed_42"].data.params["train.seed"] == "42"

    # Per-epoch history of every training: loss terms, train accuracy, utility entropy, gradient norms.
    epochs = yaml.safe_load(TINY_CONFIG.read_text())["parameters"]["experiment"]["train"]["epochs"]
    for name in TRAININGS:
        metrics = children[name].data.metrics
        for key in (
            "loss/total",
            "loss/ce",
            "train_accuracy",
            "utility_entropy",
            "grad_norm/max",
            "test.accuracy",
        ):
            assert key in metrics, (name, key)
        assert [m.step for m in client.get_metric_history(children[name].info.run_id, "loss/total")] == list(
            range(1, epochs + 1)
        )
        assert any(key.startswith("grad_norm/head") for key in metrics)
    assert "gate.flops_reduction" in children["report"].data.metrics
    assert parent.data.metrics["report/all_gates_passed"] == 0.0

    # Every result file, under the same relative path as in results/<run>/.
    def walk(path: str | None = None) -> list[str]:
        found: list[str] = []
        for item in client.list_artifacts(parent.info.run_id, path):
            found.extend(walk(item.path) if item.is_dir else [item.path])
        return found

    logged = set(walk())
    local_dir = scenario.workdir / "results" / run_name
    local = {str(p.relative_to(local_dir)) for p in local_dir.rglob("*") if p.is_file()}
    assert set(PROTOCOL_FILES) <= local
    assert local == logged
    summary = client.download_artifacts(
        parent.info.run_id, "reports/summary.md", str(scenario.workdir / "dl")
    )
    assert Path(summary).read_bytes() == (local_dir / "reports" / "summary.md").read_bytes()


def test_failing_gate_is_registered_but_never_champion(scenario: Scenario) -> None:
    _assert_ok(scenario, "failing")
    state = scenario.registry_after["failing"]
    assert state["aliases"] == {CHALLENGER: "1"}
    tags = state["versions"]["1"]
    assert (
        tags["gate.flops_reduction.passed"] == "false" and tags["gate.flops_reduction.threshold"] == ">= 1.0"
    )
    assert tags["gate.routed_accuracy_drop.passed"] == "true"
    # One repro seed (the main one): no spread to measure, so the gate is not applicable, and says so.
    assert (
        tags["gate.seed_accuracy_std.applicable"] == "false"
        and "one seed" in tags["gate.seed_accuracy_std.reason"]
    )
    assert tags["promotion.decision"] == "kept champion"
    run = _pipeline_runs(scenario)[0]
    assert tags["zenml.run_id"] == run["id"] and tags["zenml.run_name"] == run["name"]
    assert len(tags["data.fingerprint"]) == 16 and len(tags.get("git.commit", "x" * 40)) == 40
    promotion = (scenario.workdir / "results" / run["name"] / "reports" / "promotion.md").read_text()
    assert "| flops_reduction | 0.0000 | >= 1.0 | FAIL |" in promotion
    assert "**Decision: keep the champion**" in promotion
    summary = (scenario.workdir / "results" / run["name"] / "reports" / "summary.md").read_text()
    assert "[promotion.md](promotion.md)" in summary  # the report links it; promote writes only its own file
    assert "**Outcome: version 1 registered as `challenger`; `champion` stays unset.**" in promotion
    # The CI gate refuses it and names the failing gate.
    gate = scenario.gates["failing"]
    assert gate.returncode == 1, _output(gate)
    assert "failing gates: flops_reduction" in gate.stderr


def test_passing_run_takes_champion_and_gate_passes(scenario: Scenario) -> None:
    _assert_ok(scenario, "passing")
    state = scenario.registry_after["passing"]
    assert state["aliases"] == {CHALLENGER: "2", CHAMPION: "2"}
    assert state["versions"]["2"]["promotion.decision"] == "promoted"
    assert state["versions"]["1"]["promotion.decision"] == "kept champion"
    gate = scenario.gates["passing"]
    assert gate.returncode == 0, _output(gate)
    assert "gate: PASS: version 2" in gate.stdout


def test_unreachable_server_fails_at_first_mlflow_step_after_load_data_is_stored(scenario: Scenario) -> None:
    result = scenario.runs["unreachable"]
    assert result.returncode != 0
    output = _output(result)
    assert "Failed to run step" in output and scenario.server.uri in output
    assert "Connection refused" in output
    # load_data (no MLflow needed) warned about the server by name, finished, and stored its artifacts.
    assert f"MLflow tracking server {scenario.server.uri} is unreachable" in output
    runs = _pipeline_runs(scenario)
    failed = runs[2]
    assert failed["status"] == "failed"
    assert failed["steps"]["load_data"]["status"] == "completed"
    assert failed["steps"]["load_data"]["outputs"] == ["data_splits", "dataset"]
    assert all(failed["steps"][name]["status"] == "failed" for name in TRAININGS if name in failed["steps"])
    # The stored artifacts of the finished step load back.
    loaded = zenml_query(
        scenario,
        "import json\nfrom zenml.client import Client\n"
        f"step = Client().get_pipeline_run('{failed['id']}').steps['load_data']\n"
        "split = step.outputs['data_splits'][0].load().main; data = step.outputs['dataset'][0].load()\n"
        "print(json.dumps([data.name, int(split.test.features.shape[0])]))",
    )
    assert loaded[0] == "synthetic_pancancer" and loaded[1] > 0
    # Fails fast: seconds of retries per MLflow step, not MLflow's default minutes of back-off.
    assert scenario.seconds["unreachable"] < 120, scenario.seconds


def test_rerun_after_recovery_completes_and_equal_challenger_takes_champion(scenario: Scenario) -> None:
    _assert_ok(scenario, "rerun")
    state = scenario.registry_after["rerun"]
    assert state["aliases"] == {CHALLENGER: "3", CHAMPION: "3"}
    tags = state["versions"]["3"]
    assert tags["champion.version"] == "2"
    # Same data, config and seed: the champion and the challenger score the same on the same held-out rows.
    assert float(tags["accuracy.champion"]) == float(tags["accuracy.challenger"])
    assert tags["promotion.decision"] == "promoted"
    assert [r["status"] for r in _pipeline_runs(scenario)] == [
        "completed",
        "completed",
        "failed",
        "completed",
    ]


def test_champion_pyfunc_in_fresh_process_predicts_like_the_pipeline_model(scenario: Scenario) -> None:
    _assert_ok(scenario, "rerun")
    last = _pipeline_runs(scenario)[-1]
    assert scenario.registry_after["rerun"]["versions"]["3"]["zenml.run_id"] == last["id"]
    expected_path, raw_path = scenario.workdir / "expected.npy", scenario.workdir / "raw.npy"
    columns = zenml_query(
        scenario,
        "import json, numpy as np, torch\nfrom zenml.client import Client\n"
        f"run = Client().get_pipeline_run('{last['id']}')\n"
        "model = run.steps['train'].outputs['trained_model'][0].load()\n"
        "data = run.steps['load_data'].outputs['dataset'][0].load()\n"
        "x = torch.from_numpy(model.standardizer.transform(data.features))\n"
        f"np.save({str(expected_path)!r}, model.model.predict_proba(x).numpy())\n"
        f"np.save({str(raw_path)!r}, data.features)\n"
        "print(json.dumps(data.feature_names))",
    )
    predicted_path = scenario.workdir / "predicted.npy"
    script = (
        "import json, numpy as np, pandas as pd, mlflow\n"
        f"model = mlflow.pyfunc.load_model('models:/{MODEL_NAME}@{CHAMPION}')\n"
        f"frame = pd.DataFrame(np.load({str(raw_path)!r}).astype('float64'), columns={columns!r})\n"
        "out = model.predict(frame)\n"
        f"np.save({str(predicted_path)!r}, out.to_numpy())\n"
        "print(json.dumps(list(out.columns)))\n"
    )
    fresh_env = {k: v for k, v in scenario.env.items() if k != "PYTHONPATH"}  # the model's code_paths suffice
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=scenario.workdir, env=fresh_env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["negative", "positive"]
    np.testing.assert_allclose(np.load(predicted_path), np.load(expected_path), rtol=0, atol=1e-6)


def _retrain_decision(scenario: Scenario, config: Path) -> dict[str, Any]:
    """`causal-lattice retrain --decide-only` against the scenario's registry; its decision record."""
    before = set((scenario.workdir / "results" / "retraining").glob("*"))
    result = run([CAUSAL_LATTICE, "retrain", "-c", str(config), "--decide-only"], scenario)
    assert result.returncode == 0, _output(result)[-3000:]
    (new,) = set((scenario.workdir / "results" / "retraining").glob("*")) - before
    return json.loads((new / "decision.json").read_text()) | {"stdout": result.stdout}


def test_scheduled_retraining_trains_only_when_data_drifted_from_the_champion(scenario: Scenario) -> None:
    _assert_ok(scenario, "rerun")
    same = _retrain_decision(scenario, scenario.workdir / "passing_gates.yaml")
    assert same["retrain"] is False, same
    assert "version 3" in same["reference"]  # the champion, found through its zenml.run_id tag
    assert same["stdout"].startswith("no retraining")

    document = yaml.safe_load((scenario.workdir / "passing_gates.yaml").read_text())
    document["parameters"]["experiment"]["data"]["seed"] = 99  # another draw of the SCM: shifted cohorts
    shifted = scenario.workdir / "shifted_data.yaml"
    shifted.write_text(yaml.safe_dump(document))
    drifted = _retrain_decision(scenario, shifted)
    assert drifted["retrain"] is True, drifted
    assert drifted["drifted_share"] >= 0.25
    assert list((scenario.workdir / "results" / "retraining").glob("*/drift_report.html"))


def _experiment_runs(uri: str) -> list[Any]:
    """Every MLflow run (parents and nested step runs) of the project's experiment on the server at `uri`."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
    return [] if experiment is None else client.search_runs([experiment.experiment_id], max_results=1000)


def _results_folders(scenario: Scenario) -> set[str]:
    results = scenario.workdir / "results"
    return {p.name for p in results.iterdir() if p.is_dir() and not p.is_symlink() and p.name != "retraining"}


@dataclass
class TargetSwitch:
    """Step 5 of the scenario: what servers A and B held before and after each run against B."""

    server_b: MlflowServer
    runs: list[subprocess.CompletedProcess[str]]
    a_before: tuple[int, dict[str, Any]]
    a_after: tuple[int, dict[str, Any]]
    b_after: list[tuple[int, dict[str, Any]]]
    new_folders: list[set[str]]
    seconds: float
    shell_elsewhere: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def target_switch(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TargetSwitch]:
    """After the scenario (every step of `passing_gates.yaml` has finished against server A), the same
    configuration with caching on (as in zenml_config.yaml) twice against a fresh server B, then the stack
    pointed back at A for the other tests."""
    started = time.monotonic()
    server_a = scenario.server.uri
    server_b = MlflowServer(root=tmp_path_factory.mktemp("mlflow-server-b"), port=free_port())
    server_b.start()
    try:
        a_before = (len(_experiment_runs(server_a)), registry_state(server_a))
        setup = run(LOCAL_STACK, scenario, MLFLOW_TRACKING_URI=server_b.uri)
        assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-3000:]
        document = yaml.safe_load((scenario.workdir / "passing_gates.yaml").read_text())
        cached = scenario.workdir / "passing_gates_cached.yaml"
        cached.write_text(yaml.safe_dump(document | {"enable_cache": True}))
        config = str(cached)
        runs, b_after, new_folders = [], [], []
        for _ in range(2):
            before = _results_folders(scenario)
            runs.append(
                run([CAUSAL_LATTICE, "run", "-c", config], scenario, MLFLOW_TRACKING_URI=server_b.uri)
            )
            new_folders.append(_results_folders(scenario) - before)
            b_after.append((len(_experiment_runs(server_b.uri)), registry_state(server_b.uri)))
        a_after = (len(_experiment_runs(server_a)), registry_state(server_a))
        before = _results_folders(scenario)
        shell_elsewhere = run(
            [CAUSAL_LATTICE, "run", "-c", config], scenario
        )  # the shell says A, the stack B
        assert _results_folders(scenario) == before
        back = run(LOCAL_STACK, scenario)
        assert back.returncode == 0, back.stdout[-2000:] + back.stderr[-3000:]
        seconds = time.monotonic() - started
        yield TargetSwitch(server_b, runs, a_before, a_after, b_after, new_folders, seconds, shell_elsewhere)
    finally:
        server_b.stop()


def test_a_new_server_gets_the_whole_run_and_one_version_and_the_old_one_is_untouched(
    target_switch: TargetSwitch,
) -> None:
    from mlflow import MlflowClient

    first = target_switch.runs[0]
    assert first.returncode == 0, _output(first)[-6000:]
    assert "All steps of the pipeline run were cached" not in _output(first)
    (new_folder,) = target_switch.new_folders[0]  # the run's own results folder; nothing overwritten
    runs = _experiment_runs(target_switch.server_b.uri)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [p.info.run_name for p in parents] == [new_folder]  # one parent run: this ZenML run
    client = MlflowClient(tracking_uri=target_switch.server_b.uri)
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId")}
    assert set(children) == TRACKED_STEPS and len(runs) == 1 + len(TRACKED_STEPS)
    assert all(r.info.status == "FINISHED" for r in runs)
    assert "loss/total" in children["train"].data.metrics
    assert {a.path for a in client.list_artifacts(parents[0].info.run_id, "reports")} >= {
        "reports/summary.html",
        "reports/promotion.md",
    }
    count, state = target_switch.b_after[0]
    assert list(state["versions"]) == ["1"] and state["aliases"] == {CHALLENGER: "1", CHAMPION: "1"}
    assert state["versions"]["1"]["zenml.run_name"] == new_folder
    assert target_switch.a_after == target_switch.a_before  # server A: no run, no version, no alias moved


def test_a_rerun_against_the_same_new_server_is_cached(target_switch: TargetSwitch) -> None:
    second = target_switch.runs[1]
    assert second.returncode == 0, _output(second)[-6000:]
    assert "All steps of the pipeline run were cached" in _output(second)
    assert target_switch.new_folders[1] == set()  # trained nothing, wrote no results folder
    assert target_switch.b_after[1] == target_switch.b_after[0]  # no new MLflow run, no second version
    print(f"target switch: {target_switch.seconds:.0f} s (server B, local-stack twice, two runs)")


def test_a_shell_pointing_elsewhere_than_the_stack_is_refused_before_the_run(
    scenario: Scenario, target_switch: TargetSwitch
) -> None:
    refused = target_switch.shell_elsewhere
    assert refused.returncode == 2, _output(refused)[-3000:]
    last = refused.stderr.strip().splitlines()[-1]
    assert [line for line in refused.stderr.splitlines() if line.startswith("error:")] == [last]
    assert last.startswith(
        f"error: MLFLOW_TRACKING_URI is {scenario.server.uri} but the active ZenML stack's"
    )
    assert f"MLflow tracker logs to {target_switch.server_b.uri}" in last and "local-stack" in last
