"""How many CPU threads the numeric work uses, and what the run records about it.

The count is fixed by the configuration (`train.threads`, default 1), not by the machine, because on CPU
torch's bits depend on the intra-op thread count: the same config gives the same bits on a laptop, a 2-CPU pod
and a 16-core node. The measurements behind this and behind the default of 1: docs/reliability.md, "Threads and
bit-identical results".

The CPU quota bounds it: a step never uses more threads than its cgroup's CPU limit (a Kubernetes
`resources.limits.cpu`) allows, nor more than the CPUs it may run on; `threads: auto` takes exactly that many
(faster for wide models on a dedicated node, but then the numbers are those of that machine shape). When the
quota cuts a configured count, the run says so (`RuntimeInfo.limited_by_quota`).

The probes read the system's files at the paths they are given; the steps and the command line call them.
"""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path
from typing import Literal

from model.artifacts import RuntimeInfo

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")

Threads = int | Literal["auto"]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _ancestors(relative: str) -> list[str]:
    """`/a/b` -> [`a/b`, `a`, ``]: a limit on any enclosing cgroup binds too."""
    parts = [part for part in relative.split("/") if part]
    return ["/".join(parts[:k]) for k in range(len(parts), -1, -1)]


def _quota_v2(directory: Path) -> float | None:
    text = _read(directory / "cpu.max")
    if not text:
        return None
    quota, _, period = text.partition(" ")
    if quota == "max" or not period:
        return None
    return int(quota) / int(period)


def _quota_v1(directory: Path) -> float | None:
    quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    if quota is None or period is None or int(quota) <= 0 or int(period) <= 0:
        return None
    return int(quota) / int(period)


def cgroup_cpu_limit(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> float | None:
    """The CPU limit (in CPUs, e.g. 1.5) of this process's cgroup and its ancestors, None without one.

    cgroup v2 (`0::/path` in /proc/self/cgroup, `cpu.max`) and v1 (the `cpu` controller's
    `cpu.cfs_quota_us` / `cpu.cfs_period_us`). Inside a container the process's own cgroup is usually mounted at
    the root, so the root's files are read as well."""
    text = _read(proc_cgroup) or ""
    limits: list[float] = []
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            base, probe = root, _quota_v2
        elif "cpu" in controllers.split(","):
            mount = root / controllers
            base = mount if mount.is_dir() else root / "cpu"
            probe = _quota_v1
        else:
            continue
        for relative in _ancestors(path):
            limit = probe(base / relative)
            if limit is not None:
                limits.append(limit)
    return min(limits) if limits else None


def usable_cpus(limit: float | None, affinity: int) -> int:
    """CPUs the process may keep busy: its affinity, cut to the whole CPUs of its quota (at least one)."""
    if limit is None:
        return max(1, affinity)
    return max(1, min(affinity, math.floor(limit)))


def resolve_threads(requested: Threads, usable: int) -> int:
    """`train.threads` as a count: `auto` is every usable CPU; a number is capped at them."""
    return usable if requested == "auto" else max(1, min(int(requested), usable))


def pin_threads(count: int) -> None:
    """Use `count` threads in torch's intra-op pool and in every BLAS/OpenMP pool loaded in the process
    (numpy's, scikit-learn's), so the analysis steps are bounded by the quota as the training is."""
    import sklearn  # noqa: F401  (loads scikit-learn's OpenMP runtime, so the limit below reaches it)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(count)
    threadpool_limits(limits=count)


def this_machine(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP) -> tuple[float | None, int]:
    """(CPU limit of this process's cgroup or None, CPUs it may keep busy)."""
    limit = cgroup_cpu_limit(root, proc_cgroup)
    return limit, usable_cpus(limit, len(os.sched_getaffinity(0)))


def machine_threads(requested: Threads, device: str, cpus: int | None = None) -> RuntimeInfo:
    """Resolve `train.threads` on this machine (or as on one with `cpus` usable CPUs: Exp-5's second machine
    shape), pin the pools to it and describe the result."""
    import torch

    limit, usable = this_machine()
    if cpus is not None:
        limit, usable = float(cpus), cpus
    threads = resolve_threads(requested, usable)
    pin_threads(threads)
    return RuntimeInfo(
        threads=threads,
        requested_threads=str(requested),
        usable_cpus=usable,
        cpu_limit=limit,
        torch_version=str(torch.__version__),
        device=device,
        machine=f"{platform.machine()} {platform.system()}",
    )
