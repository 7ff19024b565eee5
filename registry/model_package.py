"""What a logged model carries: its weights and preprocessing (`save_model_directory`) and the code that
serves it (`stage_code`: the modules `registry/pyfunc_entry.py` imports, found by reading their imports, and no
other), for `registry/promotion.py` to log."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

from model.artifacts import TrainedModel
from model.nn.serialization import save_model
from registry.pyfunc import PREPROCESSING_FILE

ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")
REPO = Path(__file__).resolve().parents[1]
# The project's packages; imports of anything else (torch, mlflow) come from the serving environment.
PACKAGES = ("model", "registry")


def class_names_for(trained: TrainedModel, class_names: list[str]) -> list[str]:
    """The data's class names, or `class_<k>` when the data has none."""
    n_classes = trained.model.n_classes
    return list(class_names) if len(class_names) == n_classes else [f"class_{k}" for k in range(n_classes)]


def save_model_directory(trained: TrainedModel, class_names: list[str], directory: Path) -> Path:
    """Weights + config (safetensors/JSON) and `preprocessing.json`: everything `load_context` reads."""
    if trained.model.n_classes == 0:
        raise ValueError("the model has no task head (trained without a label column): nothing to predict")
    save_model(trained.model, directory)
    preprocessing = {
        "feature_names": list(trained.model.feature_names),
        "standardizer": trained.standardizer.as_dict(),
        "class_names": class_names_for(trained, class_names),
        "output": "class probabilities, one column per class name",
    }
    (directory / PREPROCESSING_FILE).write_text(json.dumps(preprocessing, indent=1))
    return directory


def _module_file(module: str) -> Path | None:
    """The source file of a project module (`model.nn.rope` -> model/nn/rope.py), None for other modules."""
    if module.split(".")[0] not in PACKAGES:
        return None
    path = REPO.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code (`from a.b import c` counts a.b and a.b.c)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return modules


def served_modules(entry: Path = ENTRY_FILE) -> list[Path]:
    """The project's source files the served model needs: `entry`'s imports, theirs, and so on, with the
    `__init__.py` of every package on the way."""
    needed: set[Path] = set()
    pending = [entry]
    while pending:
        path = pending.pop()
        if path in needed:
            continue
        needed.add(path)
        for module in imported_modules(path):
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):  # the packages above a module run when it is imported
                found = _module_file(".".join(parts[:depth]))
                if found is not None and found not in needed:
                    pending.append(found)
    return sorted(needed)


def stage_code(destination: Path) -> list[str]:
    """Copies of the served modules under `destination`, in their packages, for `code_paths` (one entry per
    top-level package, as MLflow puts each on the path of the loaded model)."""
    for source in served_modules():
        target = destination / source.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return [str(destination / package) for package in PACKAGES if (destination / package).is_dir()]
