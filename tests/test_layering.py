"""The import graph, read from the source (`imported_modules`, the reader that also finds the served model's
code): layers only import downwards, inside `model/` as between the packages, the package never imports the
tools beside it, the only module cycles are ZenML's flavor/implementation pairs, and every module is one concept's
size."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from registry.model_package import imported_modules

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
FLAVOR_PAIRS = [
    {f"orchestrators.{flavor}.flavor", f"orchestrators.{flavor}.orchestrator"}
    for flavor in ("kubeflow_gpu", "local_parallel")
]


def _modules() -> dict[str, set[str]]:
    files = {
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): path
        for package in ALLOWED
        for path in (REPO / package).rglob("*.py")
    }
    return {
        name: {target for target in imported_modules(path) if target in files and target != name}
        for name, path in files.items()
    }


def test_packages_only_import_the_layers_below() -> None:
    wrong = sorted(
        (module, target)
        for module, targets in _modules().items()
        for target in targets
        if (top := target.split(".")[0]) != module.split(".")[0] and top not in ALLOWED[module.split(".")[0]]
    )
    assert not wrong, wrong


def test_no_import_cycle_but_the_flavor_pairs() -> None:
    graph = _modules()
    for pair in FLAVOR_PAIRS:
        flavor = next(module for module in pair if module.endswith(".flavor"))
        graph[flavor] -= pair
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        raise AssertionError(f"import cycle {error.args[1]}") from None
    assert set(graph) >= set().union(*FLAVOR_PAIRS)


# Inside model/: each unit and the units it may import. The science at the bottom (structure learning, data),
# the network on the structure, training on both, the protocol's checks on a trained model, the gates on the
# checks, the report on everything. `artifacts` are the types passed between steps; `errors`, `config` and
# `markup` are leaves every unit may use.
MODEL_UNITS = {
    "errors": set(),
    "markup": set(),
    "config": {"errors"},
    "run_config": {"config", "errors", "data"},
    "structure": {"config", "errors"},
    "data": {"config", "errors"},
    "nn": {"config", "errors", "structure"},
    "artifacts": {"config", "errors", "structure", "data", "nn"},
    "training": {"config", "errors", "structure", "data", "nn", "artifacts"},
    "evaluation": {"config", "errors", "structure", "data", "nn", "artifacts", "training"},
    "gates": {"config", "errors", "markup", "data", "artifacts", "evaluation"},
    "report": {"config", "errors", "markup", "artifacts", "evaluation", "gates"},
}
# Frameworks of the pipeline and the registry: the science never imports them.
FRAMEWORKS = ("zenml", "mlflow", "kfp")


def _model_unit(module: str) -> str:
    return module.split(".")[1]


def test_every_module_of_model_belongs_to_a_unit() -> None:
    units = {_model_unit(module) for module in _modules() if module.startswith("model.")}
    assert units == set(MODEL_UNITS), units ^ set(MODEL_UNITS)


def test_model_units_only_import_the_units_below() -> None:
    wrong = sorted(
        (module, target)
        for module, targets in _modules().items()
        if module.startswith("model.")
        for target in targets
        if target.startswith("model.")
        and _model_unit(target) != _model_unit(module)
        and _model_unit(target) not in MODEL_UNITS[_model_unit(module)]
    )
    assert not wrong, wrong


def test_the_network_never_imports_data_training_evaluation_or_report() -> None:
    # Spelled out, beside the table above: the layering a reader of nn/ relies on.
    for path in (REPO / "model" / "nn").rglob("*.py"):
        imported = {module.split(".")[1] for module in imported_modules(path) if module.startswith("model.")}
        assert not imported & {"data", "training", "evaluation", "report", "gates"}, (path, imported)


def test_model_never_imports_zenml_mlflow_or_kfp() -> None:
    wrong = sorted(
        (str(path.relative_to(REPO)), module)
        for path in (REPO / "model").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in FRAMEWORKS
    )
    assert not wrong, wrong


# A module is one concept, split where the concept ends: none so long that it holds several, none so short that
# its concept is part of another's. Entry files whose form their tool fixes are the exceptions.
MIN_LINES, MAX_LINES = 30, 400
ENTRY_FILES = {"cli/__main__.py", "registry/pyfunc_entry.py"}


def test_every_module_is_between_30_and_400_lines() -> None:
    wrong = sorted(
        (relative, lines)
        for package in ALLOWED
        for path in (REPO / package).rglob("*.py")
        if path.name != "__init__.py"
        and (relative := str(path.relative_to(REPO))) not in ENTRY_FILES
        and not MIN_LINES <= (lines := len(path.read_text().splitlines())) <= MAX_LINES
    )
    assert not wrong, wrong
