"""The wheel is the product: `pip install .` ships the package and the `causal-lattice` console script, and
none of the development tools (tools/), benchmarks or tests.

Builds the wheel from a copy of the working tree (no network, no build isolation: the virtualenv's setuptools),
reads its file list, and installs it without dependencies into a fresh virtualenv, where `import tools` fails.
A few seconds; no dependency is installed.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = {"model", "steps", "pipelines", "materializers", "orchestrators", "registry", "cli"}
NOT_SHIPPED = {"tools", "tests", "bench", "k8s", "configs"}
SKIP = shutil.ignore_patterns(
    ".venv", ".git", ".state", "results", "build", "dist", "*.egg-info", "__pycache__"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=SKIP)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(root / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (built,) = (root / "dist").glob("causal_lattice-*.whl")
    return built


def test_wheel_holds_the_product_packages_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    packages = {name for name in top if not name.endswith(".dist-info")}
    assert packages == PRODUCT
    assert not packages & NOT_SHIPPED
    for package in PRODUCT:  # every module of the package, not just its folder
        expected = {
            str(p.relative_to(REPO)) for p in (REPO / package).rglob("*.py") if "__pycache__" not in p.parts
        }
        assert expected <= set(names), sorted(expected - set(names))
    (dist_info,) = top - packages
    entry_points = configparser.ConfigParser()
    entry_points.read_string(zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode())
    assert dict(entry_points["console_scripts"]) == {"causal-lattice": "cli.main:main"}


def test_installed_wheel_has_no_tools(wheel: Path, tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    assert (tmp_path / "venv" / "bin" / "causal-lattice").is_file()
    # Outside the checkout, so nothing is importable from the working directory.
    found = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('cli').origin)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert found.returncode == 0 and "site-packages" in found.stdout, found.stderr
    tools = subprocess.run(
        [str(python), "-c", "import tools"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert tools.returncode != 0 and "No module named 'tools'" in tools.stderr
