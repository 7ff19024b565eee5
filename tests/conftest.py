"""How `make test` spreads the suite over its pytest-xdist workers (`-n 2 --dist loadscope`).

A worker takes one scope at a time: a module, so that a module-scoped fixture (one pipeline run, one MLflow
server scenario) runs once, on one worker; the modules that share a session fixture of this suite form one scope
(`SHARED_SCOPES`), so that fixture runs once too. The scopes are handed out longest first (the collection is
sorted here and `--no-loadscope-reorder` keeps that order), so that no worker is left alone at the end with a
long pipeline scenario while the other idles.

xdist's own `--dist loadgroup` (`xdist_group` marks) would say the same, but pytest-xdist 3.8.0 renames the test
ids through an attribute pytest 9 no longer reads, so its groups are silently ignored; the scheduler below
computes the scope from the test id instead.
"""

from __future__ import annotations

from typing import Any

import pytest

# Modules that share a session fixture (`two_runs`, `hostile_run` of tests/integration/conftest.py) run as one
# scope. Checked at collection: a module that uses a shared fixture and is not listed here stops the run.
SHARED_SCOPES = {
    "tests/integration/test_pipeline.py": "two_runs and hostile_run",
    "tests/integration/test_hostile_names.py": "two_runs and hostile_run",
    "tests/integration/test_report_browser.py": "two_runs and hostile_run",
}
# About how many seconds each long module takes on the 2-core machine, its fixtures included, from
# `pytest -n 2 --durations=0` of the integration tests and of the unit tests, each on the idle machine (after the
# tiny profile's label-edge search refits went from 200 steps to 40). Only the order matters: the longest scope
# goes first, unlisted (short) modules follow in collection order. Refresh them from `make test`'s --durations
# when a scenario grows.
APPROXIMATE_SECONDS = {
    "tests/integration/test_docs_examples.py": 660,
    "tests/integration/test_mlflow_server.py": 415,
    "tests/integration/test_faults.py": 310,
    "tests/orchestrators/test_kfp_local_execution.py": 220,
    "tests/integration/test_pipeline.py": 125,
    "tests/integration/test_hostile_names.py": 90,
    "tests/integration/test_report_browser.py": 15,
    "tests/integration/test_signals.py": 190,
    "tests/test_hostile_inputs.py": 90,
    "tests/integration/test_mlflow_local.py": 80,
    "tests/model/test_checkpoint.py": 70,
    "tests/bench/test_structure.py": 45,
    "tests/model/test_threads.py": 40,
    "tests/orchestrators/test_local_parallel.py": 50,
    "tests/test_properties.py": 35,
    "tests/model/test_trainer.py": 35,
    "tests/k8s/test_register_stack.py": 25,
    "tests/bench/test_predictor_settings.py": 25,
    "tests/model/test_data_parallel.py": 25,  # three two-rank trainings
    "tests/bench/test_structure_scale.py": 25,
    "tests/orchestrators/test_kfp_compile.py": 20,
    "tests/registry/test_pyfunc.py": 15,
}


def scope_of(nodeid: str) -> str:
    """The scope a test runs in: its module, or the shared scope its module belongs to."""
    module = nodeid.split("::", 1)[0]
    return SHARED_SCOPES.get(module, module)


def _shared_session_fixtures(item: pytest.Item) -> set[str]:
    """The session-scoped fixtures of this suite (defined in a conftest under tests/) that `item` uses."""
    return {
        name
        for name, definitions in item._fixtureinfo.name2fixturedefs.items()
        if definitions[-1].scope == "session" and definitions[-1].baseid.startswith("tests")
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    users: dict[str, set[str]] = {}
    for item in items:
        for fixture in _shared_session_fixtures(item):
            users.setdefault(fixture, set()).add(scope_of(item.nodeid))
    split = {fixture: sorted(scopes) for fixture, scopes in users.items() if len(scopes) > 1}
    if split:
        raise pytest.UsageError(
            f"session fixtures used from several scopes (add them to SHARED_SCOPES): {split}"
        )
    scopes: dict[str, list[pytest.Item]] = {}
    for item in items:
        scopes.setdefault(scope_of(item.nodeid), []).append(item)

    def seconds(scope: list[pytest.Item]) -> int:
        return sum(
            APPROXIMATE_SECONDS.get(module, 0) for module in {item.nodeid.split("::")[0] for item in scope}
        )

    ordered = sorted(scopes.values(), key=lambda scope: -seconds(scope))  # stable: ties keep their order
    items[:] = [item for scope in ordered for item in scope]


@pytest.hookimpl(optionalhook=True)  # the suite also runs without pytest-xdist (TEST_WORKERS=0)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` with `scope_of`'s scopes."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedScopeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return SharedScopeScheduling(config, log)
