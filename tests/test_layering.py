"""The import graph, read from the source (no import executed): layers only import downwards, the package never
imports the tools beside it, and the only module cycle is ZenML's flavor/implementation pair."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Each package and the packages it may import (model is the bottom: plain typed science, no ZenML).
ALLOWED = {
    "model": set(),
    "materializers": {"model"},
    "registry": {"model"},
    "orchestrators": set(),
    "steps": {"model", "materializers", "registry"},
    "pipelines": {"model", "registry", "steps"},
    "cli": {"model", "registry", "orchestrators", "pipelines"},
    "tools": {"model", "registry", "orchestrators", "cli"},
}
# ZenML's flavor names its implementation class, which imports the flavor's config (lazily, at runtime).
FLAVOR_PAIR = {"orchestrators.kubeflow_gpu.flavor", "orchestrators.kubeflow_gpu.orchestrator"}


def _modules() -> dict[str, set[str]]:
    files = {
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
        for package in ALLOWED
        for path in (REPO / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        graph[name] = {target for target in imported if target in files and target != name}
    return graph


def test_packages_only_import_the_layers_below() -> None:
    wrong = sorted(
        (module, target)
        for module, targets in _modules().items()
        for target in targets
        if (top := target.split(".")[0]) != module.split(".")[0] and top not in ALLOWED[module.split(".")[0]]
    )
    assert not wrong, wrong


def test_no_import_cycle_but_the_flavor_pair() -> None:
    graph = _modules()
    graph["orchestrators.kubeflow_gpu.flavor"] -= FLAVOR_PAIR
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        raise AssertionError(f"import cycle {error.args[1]}") from None
    assert set(graph) >= FLAVOR_PAIR
