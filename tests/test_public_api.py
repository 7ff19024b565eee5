"""The public API of `model/nn` and `model/structure` is what each module's `__all__` lists, and ruff's
pydocstyle rules (google convention, `make lint`) check the docstrings of exactly those names: so every public
top-level class and function must be listed, or its docstring would go unchecked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTED = sorted(
    path
    for package in ("nn", "structure")
    for path in (REPO / "model" / package).glob("*.py")
    if path.name != "__init__.py"
)


@pytest.mark.parametrize("path", DOCUMENTED, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_public_class_and_function_is_in_all(path: Path) -> None:
    tree = ast.parse(path.read_text())
    public = {
        node.name
        for node in tree.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and not node.name.startswith("_")
    }
    listed = next(
        (
            {ast.literal_eval(element) for element in node.value.elts}
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets)
            and isinstance(node.value, (ast.List, ast.Tuple))
        ),
        None,
    )
    assert listed is not None, f"{path} has no __all__"
    assert public <= listed, sorted(public - listed)
