"""How `make test` spreads the suite over its pytest-xdist workers (`-n 2 --dist loadgroup`).

Each test gets an `xdist_group` mark: its module, so a module-scoped fixture (one pipeline run, one MLflow
server scenario) runs once, on one worker. Modules that share a session fixture of this suite (`two_runs`,
`hostile_run`, `compiled`) form one group, so that fixture runs once too. The groups are then handed out
longest first (`--no-loadscope-reorder` keeps this order), so that no worker is left alone at the end with a long
pipeline scenario while the other idles.
"""

from __future__ import annotations

import pytest

# Seconds each long module took alone in a 3.11 CI rehearsal on the 2-core machine (pytest --durations; for a
# module, its fixtures and tests together). Only the order matters: the longest group is scheduled first, and
# the unlisted (short) modules follow in collection order.
MEASURED_SECONDS = {
    "tests/integration/test_docs_examples.py": 365,
    "tests/integration/test_mlflow_server.py": 324,
    "tests/orchestrators/test_kfp_local_execution.py": 279,
    "tests/integration/test_pipeline.py": 150,
    "tests/integration/test_hostile_names.py": 162,
    "tests/integration/test_report_browser.py": 60,
    "tests/integration/test_faults.py": 168,
    "tests/integration/test_signals.py": 120,
    "tests/integration/test_mlflow_local.py": 100,
    "tests/test_hostile_inputs.py": 110,
    "tests/model/test_checkpoint.py": 100,
    "tests/model/test_threads.py": 65,
    "tests/model/test_trainer.py": 45,
    "tests/bench/test_structure.py": 40,
    "tests/test_properties.py": 35,
    "tests/k8s/test_register_stack.py": 30,
    "tests/orchestrators/test_kfp_compile.py": 25,
    "tests/registry/test_pyfunc.py": 25,
}


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _shared_session_fixtures(item: pytest.Item) -> set[str]:
    """The session-scoped fixtures of this suite (defined in a conftest under tests/) that `item` uses."""
    shared = set()
    for name, definitions in item._fixtureinfo.name2fixturedefs.items():
        definition = definitions[-1]
        if definition.scope == "session" and definition.baseid.startswith("tests"):
            shared.add(name)
    return shared


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for item in items:
        for fixture in _shared_session_fixtures(item):
            parent[root(f"fixture:{fixture}")] = root(_module(item))
    groups: dict[str, list[pytest.Item]] = {}
    for item in items:
        groups.setdefault(root(_module(item)), []).append(item)

    def seconds(group: list[pytest.Item]) -> int:
        return sum(MEASURED_SECONDS.get(module, 0) for module in {_module(item) for item in group})

    ordered = sorted(groups.items(), key=lambda entry: -seconds(entry[1]))  # stable: ties keep their order
    items[:] = [item for _, group in ordered for item in group]
    for name, group in ordered:
        for item in group:
            item.add_marker(pytest.mark.xdist_group(name))
