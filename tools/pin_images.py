"""Pin the images of k8s/ by digest at deploy time: the manifests to apply, written with each container's image
replaced by a reference that ends in `@sha256:<64 hex>`.

The committed manifests name images by tag: the project image's digest exists only once it has been pushed, and
the MLflow image's is looked up when deploying (`docker buildx imagetools inspect`, `crane digest`). Every
workload container must get a digest; the example Secrets are not written (create the real ones, README).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DIGEST_REFERENCE = re.compile(r"[a-z0-9][a-z0-9._\-/:]*@sha256:[0-9a-f]{64}")
# The inline checkov skip that the committed manifests carry until their images are pinned here.
DIGEST_CHECK = "CKV_K8S_43"
NOT_APPLIED = {"secrets.example.yaml"}


class PinError(ValueError):
    """A reference without a digest, or a container name the manifests do not have."""


def _pod_spec(document: Mapping[str, Any]) -> dict[str, Any] | None:
    if document.get("kind") == "CronJob":
        return document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if document.get("kind") in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return document["spec"]["template"]["spec"]
    return None


def parse_images(pairs: list[str]) -> dict[str, str]:
    """`container=reference@sha256:...` pairs as a mapping; refuses a reference without a digest."""
    images = {}
    for pair in pairs:
        container, _, reference = pair.partition("=")
        if not container or not DIGEST_REFERENCE.fullmatch(reference):
            raise PinError(
                f"--image {pair!r}: give CONTAINER=IMAGE@sha256:<64 hex digits> (the digest the registry reports "
                "for the pushed image, e.g. `docker buildx imagetools inspect IMAGE`)"
            )
        images[container] = reference
    return images


def pin_documents(documents: list[dict[str, Any]], images: Mapping[str, str]) -> list[dict[str, Any]]:
    """`documents` with every workload container's image from `images` (by container name) and the digest
    check's skip annotation dropped; every workload container must be named in `images`."""
    found = set()
    for document in documents:
        pod = _pod_spec(document)
        if pod is None:
            continue
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            if container["name"] not in images:
                raise PinError(
                    f"container {container['name']!r} of {document['kind']} {document['metadata']['name']} has "
                    f"no --image {container['name']}=IMAGE@sha256:...: every workload image must be pinned"
                )
            container["image"] = images[container["name"]]
            found.add(container["name"])
        annotations = document["metadata"].get("annotations", {})
        for key in [k for k, v in annotations.items() if str(v).startswith(f"{DIGEST_CHECK}=")]:
            del annotations[key]
        if not annotations:
            document["metadata"].pop("annotations", None)
    if unknown := sorted(set(images) - found):
        raise PinError(f"--image names container(s) {unknown} that no manifest has")
    return documents


def pin_manifests(source: Path, output: Path, images: Mapping[str, str]) -> list[Path]:
    """Every manifest of `source` (not the example Secrets) with its images pinned, written to `output`."""
    files = {
        p.name: [d for d in yaml.safe_load_all(p.read_text()) if d] for p in sorted(source.glob("*.yaml"))
    }
    files = {name: documents for name, documents in files.items() if name not in NOT_APPLIED}
    pin_documents([d for documents in files.values() for d in documents], images)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name, documents in files.items():
        path = output / name
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        written.append(path)
    return written
