"""Images pinned by digest at deploy time (`python -m tools pin-images`), proven with checkov itself: the
committed manifests fail its digest check once their inline skip is taken away, and the manifests the tool
writes pass every check with no skip of it. checkov comes from its own virtualenv (`make checkov`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.k8s.k8s_testlib import K8S, K8S_VERSIONS, REPO, containers, pod_spec

CHECKOV = REPO / "build" / "venv-checkov" / "bin" / "checkov"
DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGES = {
    "submit": f"registry.example.com/causal-lattice/causal-lattice:0.1.0@{DIGEST}",
    "mlflow": f"ghcr.io/mlflow/mlflow:v3.17.2-full@{DIGEST}",
}


def _pin(output: Path, *images: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tools", "pin-images", "--source", str(K8S), "--output", str(output)]
    for image in images:
        argv += ["--image", image]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def _checkov(directory: Path) -> dict[str, Any]:
    assert CHECKOV.is_file(), f"{CHECKOV} is missing: `make checkov` installs it"
    result = subprocess.run(
        [str(CHECKOV), "--skip-download", "--framework", "kubernetes", "-d", str(directory), "-o", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    return report["results"]


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("pinned")
    result = _pin(output, *(f"{name}={reference}" for name, reference in IMAGES.items()))
    assert result.returncode == 0, result.stderr
    return output


def _documents(directory: Path) -> list[dict[str, Any]]:
    return [d for p in sorted(directory.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


def test_pinned_manifests_carry_the_digests_and_pass_checkov_without_skipping_its_digest_check(
    pinned,
) -> None:
    documents = _documents(pinned)
    assert not [d for d in documents if d["kind"] == "Secret"], "the example Secrets are never applied"
    workloads = [d for d in documents if d["kind"] in {"CronJob", "Deployment"}]
    assert {c["name"]: c["image"] for d in workloads for c in containers(pod_spec(d))} == IMAGES
    for document in documents:
        kubernetes_validate.validate(document, K8S_VERSIONS[0], strict=True)
    results = _checkov(pinned)
    assert results["failed_checks"] == []
    assert not [c for c in results["skipped_checks"] if c["check_id"] == "CKV_K8S_43"]
    # Everything but the digest check is as in the committed manifests.
    committed = [d for d in _documents(K8S) if d["kind"] != "Secret"]
    for document in committed:
        for container in (
            containers(pod_spec(document)) if document["kind"] in {"CronJob", "Deployment"} else []
        ):
            container["image"] = IMAGES[container["name"]]
        annotations = document["metadata"].get("annotations", {})
        for key in [k for k, v in annotations.items() if v.startswith("CKV_K8S_43=")]:
            del annotations[key]
    assert sorted(map(json.dumps, committed)) == sorted(map(json.dumps, documents))


def test_without_its_inline_skip_the_committed_manifests_fail_the_digest_check(tmp_path) -> None:
    for document_file in K8S.glob("*.yaml"):
        text = document_file.read_text()
        kept = "\n".join(line for line in text.splitlines() if "=pinned by digest at deploy time" not in line)
        (tmp_path / document_file.name).write_text(kept + "\n")
    failed = {(c["check_id"], c["resource"].split(".")[0]) for c in _checkov(tmp_path)["failed_checks"]}
    assert failed == {("CKV_K8S_43", "CronJob"), ("CKV_K8S_43", "Deployment")}


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        (["submit=registry.example.com/causal-lattice/causal-lattice:0.1.0", f"mlflow={IMAGES['mlflow']}"],
         "give CONTAINER=IMAGE@sha256:<64 hex digits>"),
        ([f"mlflow={IMAGES['mlflow']}"], "container 'submit' of CronJob causal-lattice-retrain has no --image"),
        ([*(f"{k}={v}" for k, v in IMAGES.items()), f"sidecar={IMAGES['mlflow']}"],
         "names container(s) ['sidecar'] that no manifest has"),
    ],
)  # fmt: skip
def test_an_image_without_a_digest_or_an_unknown_container_is_refused_in_one_line(tmp_path, images, expected):
    result = _pin(tmp_path / "out", *images)
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and expected in result.stderr
    )
    assert not (tmp_path / "out").exists()
