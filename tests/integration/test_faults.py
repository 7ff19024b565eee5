"""Faults, really done to the real pipeline (`causal-lattice run` on the local ZenML + MLflow stack, caching on):

* SIGKILL of the whole run twice (mid-training, then later), then a rerun: finished steps are reused, the killed
  training resumes from its checkpoint, and the report equals an uninterrupted run's;
* the MLflow server killed mid-run: a one-line error naming its URI, finished steps' artifacts intact, a refusal
  at start while it is down, and a rerun after recovery that logs every step once and registers one version;
* a full results disk mid-run and a full or read-only one at start (a real tmpfs): a clear error, nothing earlier
  lost, no partial file, and a rerun after space is freed completes with the same report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.faults import (
    STEPS,
    TRAININGS,
    digest_tree,
    environment,
    fault_config,
    fill,
    final_summary,
    mlflow_state,
    mount_tmpfs,
    run,
    set_up_stack,
    unmount,
)
from tests.integration.mlflow_scenario import MlflowServer, free_port
from tests.integration.zenml_env import zenml_query

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The uninterrupted run's report (its own ZenML store, so nothing is cached for it)."""
    workdir = tmp_path_factory.mktemp("reference")
    env, config = environment(workdir), fault_config(workdir)
    set_up_stack(workdir, env, config)
    attempt = run(workdir, config, env)
    assert attempt.returncode == 0, attempt.log[-5000:]
    return final_summary(workdir / "results")


def _sqlite_uri(workdir: Path) -> str:
    return f"sqlite:///{(workdir / '.state' / 'mlflow.db').resolve()}"


def test_kill_9_then_rerun_reuses_finished_steps_and_reproduces_the_report(
    reference: str, tmp_path: Path
) -> None:
    env, config = environment(tmp_path), fault_config(tmp_path)
    set_up_stack(tmp_path, env, config)
    first = run(tmp_path, config, env, kill_at="[train] checkpoint after epoch 4")
    assert first.killed, first.log[-3000:]
    second = run(tmp_path, config, env, kill_at="Step `subset_generalization` has started")
    assert second.killed, second.log[-3000:]
    assert "load_data" in second.cached()  # finished steps of the killed run are reused
    assert "[train] resumed from the checkpoint taken after epoch 4" in second.log
    third = run(tmp_path, config, env)
    assert third.returncode == 0, third.log[-5000:]
    assert set(TRAININGS) | {"load_data", "repro_check"} <= third.cached()
    # The resumed main training is bit-identical to the uninterrupted repro_seed_42 (Exp-5) and the report's
    # numbers are the uninterrupted run's.
    assert final_summary(tmp_path / "results") == reference
    state = mlflow_state(_sqlite_uri(tmp_path))
    assert list(state["versions"]) == ["1"] and state["aliases"]["challenger"] == "1"
    assert state["finished"] == dict.fromkeys(STEPS, 1)  # every step logged once over the three attempts


def test_mlflow_killed_mid_run_then_rerun_logs_everything_once(reference: str, tmp_path: Path) -> None:
    server = MlflowServer(root=tmp_path / "mlflow", port=free_port())
    server.root.mkdir()
    server.start()
    try:
        env = environment(tmp_path, MLFLOW_TRACKING_URI=server.uri)
        config = fault_config(tmp_path)
        set_up_stack(tmp_path, env, config)

        def kill_server() -> None:
            import os
            import signal

            assert server.process is not None
            os.killpg(server.process.pid, signal.SIGKILL)
            server.stop()  # reaps the group

        broken = run(tmp_path, config, env, kill_at="Step `subset_lung` has finished", on_marker=kill_server)
        assert broken.returncode == 1, broken.log[-5000:]
        last_line = broken.log.strip().splitlines()[-1]
        assert (
            last_line.startswith("error: the run failed: step ")
            and f"{server.uri} is unreachable" in last_line
        )
        # While it is down, a new run is refused before it starts, naming the URI.
        refused = run(tmp_path, config, env)
        assert (
            refused.returncode == 2 and f"MLflow tracking server {server.uri} is unreachable" in refused.log
        )
        runs = zenml_query(
            tmp_path,
            "import json\nfrom zenml.client import Client\n"
            "runs = Client().list_pipeline_runs(sort_by='asc:created', size=10).items\n"
            "r = runs[0]\nmodel = r.steps['subset_lung'].outputs['trained_model'][0].load()\n"
            "print(json.dumps({'count': len(runs), 'status': str(r.status.value),\n"
            "  'steps': {n: str(s.status.value) for n, s in r.steps.items()}, 'n_train': model.n_train}))",
        )
        assert runs["count"] == 1 and runs["status"] == "failed"
        assert (
            runs["steps"]["load_data"] == runs["steps"]["subset_lung"] == "completed" and runs["n_train"] > 0
        )

        server.start()
        rerun = run(tmp_path, config, env)
        assert rerun.returncode == 0, rerun.log[-5000:]
        assert {"load_data", "subset_lung"} <= rerun.cached()
        assert final_summary(tmp_path / "results") == reference
        state = mlflow_state(server.uri)
        assert list(state["versions"]) == ["1"], state["versions"]  # no duplicate, no half-registered version
        assert state["versions"]["1"]["promotion.decision"] in ("promoted", "kept champion")
        assert state["aliases"]["challenger"] == "1"
        assert state["finished"] == dict.fromkeys(STEPS, 1)
    finally:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "disk"
    if not mount_tmpfs(mount, 80):
        pytest.skip("this machine does not allow a tmpfs mount (root in a sandbox with mount rights needed)")
    yield mount
    unmount(mount)


def test_a_full_or_read_only_results_disk_is_refused_at_start(small_disk: Path, tmp_path: Path) -> None:
    env = environment(tmp_path)
    config = fault_config(tmp_path, small_disk / "results")
    filler = fill(small_disk, leave_bytes=20 << 20)
    refused = run(tmp_path, config, env)
    assert refused.returncode == 2 and "MiB free, a run writes up to about 64 MiB" in refused.log
    filler.unlink()
    import subprocess

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    refused = run(tmp_path, config, env)
    assert (
        refused.returncode == 2
        and "is not writable" in refused.log
        and "Read-only file system" in refused.log
    )
    assert not (tmp_path / "zenml").exists()  # refused before ZenML started


def test_disk_full_mid_run_is_one_clear_error_and_a_rerun_completes(
    reference: str, small_disk: Path, tmp_path: Path
) -> None:
    env, config = environment(tmp_path), fault_config(tmp_path, small_disk / "results")
    set_up_stack(tmp_path, env, config)
    filled: list[Path] = []
    failed = run(
        tmp_path,
        config,
        env,
        kill_at="Step `train` has finished",
        on_marker=lambda: filled.append(fill(small_disk)),
    )
    assert filled and failed.returncode == 1, failed.log[-5000:]
    last_line = failed.log.strip().splitlines()[-1]
    assert last_line.startswith("error: the run failed: step ") and "MiB free" in last_line
    assert "free space or set results_dir" in last_line and "No space left on device" in failed.log
    earlier = digest_tree(small_disk / "results")
    assert earlier and not [name for name in earlier if name.endswith(".partial")]  # nothing half-written
    filled[0].unlink()
    rerun = run(tmp_path, config, env)
    assert rerun.returncode == 0, rerun.log[-5000:]
    assert "train" in rerun.cached()
    assert final_summary(small_disk / "results") == reference
    after = digest_tree(small_disk / "results")
    assert {name: after[name] for name in earlier} == earlier  # the failed run's files are untouched
