"""Offline checks of the production image recipe: the Dockerfile is read as text."""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib

import pytest

from tests.k8s.k8s_testlib import (
    DOCKERFILE,
    REPO,
    RUN_AS_USER,
)

# ------------------------------------------------------------------------------------------------
# Dockerfile
# ------------------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _pip_installs() -> list[str]:
    return [
        cmd.strip()
        for kw, args in _dockerfile_instructions()
        if kw == "RUN"
        for cmd in re.split(r"&&|;", args)
        if re.search(r"\bpip install\b", cmd)
    ]


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    users = [args for kw, args in _dockerfile_instructions() if kw == "USER"]
    assert users, "the Dockerfile sets no USER, so the image runs as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]} must be numeric, or runAsNonRoot cannot verify it"
    assert int(uid) != 0
    assert int(uid) == RUN_AS_USER, "the image user must match runAsUser in the k8s manifests"


def test_dockerfile_base_image_is_pinned() -> None:
    instructions = _dockerfile_instructions()
    args = dict(a.split("=", 1) for kw, a in instructions if kw == "ARG" and "=" in a)
    for kw, base in instructions:
        if kw != "FROM":
            continue
        image = base.split()[0]
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), (
            f"base image {image} not pinned"
        )


def _constraints_file() -> str:
    for kw, args in _dockerfile_instructions():
        match = re.search(r"requirements\.lock\s*>\s*(\S+)", args)
        if kw == "RUN" and match:
            return match.group(1)
    raise AssertionError("no RUN step writes a constraints file from requirements.lock")


def test_dockerfile_installs_under_the_locked_constraints() -> None:
    constraints = _constraints_file()
    installs = [cmd for cmd in _pip_installs() if not re.search(r"pip install --upgrade \S*pip", cmd)]
    assert installs, "no pip install in the Dockerfile"
    for cmd in installs:
        assert f"-c {constraints}" in cmd, f"pip install without the lock's constraints: {cmd}"
    assert any(re.search(r"-e \"?\.", cmd) for cmd in installs), "the project is not installed with -e ."
    assert any("download.pytorch.org/whl/" in cmd and "torch==2.13.0+" in cmd for cmd in installs), (
        "torch 2.13.0 must come from the PyTorch CUDA index"
    )


def test_dockerfile_lock_rewrite_only_swaps_the_cpu_torch_pin() -> None:
    # Run the Dockerfile's own sed expression over requirements.lock.
    run = next(
        args for kw, args in _dockerfile_instructions() if kw == "RUN" and "requirements.lock >" in args
    )
    sed_cmd = run.split("requirements.lock >")[0].strip()
    sed_cmd = sed_cmd.replace("${TORCH_CUDA}", "cu128")
    argv = shlex.split(sed_cmd) + [str(REPO / "requirements.lock")]
    assert argv[0] == "sed"
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()
    lock = (REPO / "requirements.lock").read_text().splitlines()
    changed = [(a, b) for a, b in zip(lock, out, strict=True) if a != b]
    assert changed == [("torch==2.13.0+cpu", "torch==2.13.0+cu128")], changed


def test_every_pyproject_dependency_is_pinned_by_the_lock() -> None:
    # `-c requirements.lock` only pins what the lock lists; an unlisted dependency floats.
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    locked = {
        norm(line.split("==")[0])
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = norm(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])
        assert name in locked, f"{requirement} is not pinned in requirements.lock"


COPIED_PATHS = [
    "pyproject.toml",
    "requirements.lock",
    "model",
    "steps",
    "pipelines",
    "materializers",
    "orchestrators",
    "registry",
    "cli",
    "zenml_config.yaml",
]


def _copy_sources() -> set[str]:
    sources: set[str] = set()
    for kw, args in _dockerfile_instructions():
        if kw == "COPY":
            parts = [p for p in args.split() if not p.startswith("--")]
            sources.update(p.rstrip("/").removeprefix("./") for p in parts[:-1])
    return sources


@pytest.mark.parametrize("path", COPIED_PATHS)
def test_dockerfile_copies_the_project(path: str) -> None:
    assert path in _copy_sources(), f"the Dockerfile does not COPY {path}"


@pytest.mark.parametrize("path", COPIED_PATHS)
def test_copied_paths_exist_and_are_not_dockerignored(path: str) -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip()[:1] not in ("", "#")
    ]
    assert path not in ignored and f"{path}/" not in ignored, f".dockerignore hides {path} from COPY"
    if not (REPO / path).exists():
        pytest.skip(f"{path} does not exist yet; `docker build` fails until it does")


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()}
    for path in (".venv", "results", "build", ".state", ".git", ".pytest_cache"):
        assert path in ignored, f".dockerignore does not exclude {path}"


def test_pipeline_module_named_by_the_cronjob_exists() -> None:
    module = REPO / "pipelines" / "causal_experiment.py"
    if not module.exists():
        pytest.skip("pipelines/causal_experiment.py does not exist yet")
    assert re.search(
        r"\bdef causal_experiment_pipeline\b|\bcausal_experiment_pipeline\s*=", module.read_text()
    )
