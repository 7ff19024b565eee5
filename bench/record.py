"""What every benchmark does with its result: JSON without NaN (null instead), written to a new file only."""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN/Infinity: report them as null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value


def write_new(record: dict[str, Any], path: Path) -> Path:
    """Write `record` as JSON to `path`, or to a timestamped sibling when it exists: an earlier result is never
    overwritten (exclusive create, so concurrent writers cannot clobber each other either)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate, counter = path, 0
    while True:
        try:
            with candidate.open("x") as handle:
                json.dump(finite_or_none(record), handle, indent=2)
                handle.write("\n")
            return candidate
        except FileExistsError:
            counter += 1
            candidate = path.with_name(f"{path.stem}-{datetime.now():%Y%m%d-%H%M%S}-{counter}{path.suffix}")


def record_paths(name: str, out: Path | None, also_results: bool) -> list[Path]:
    """Where a benchmark writes its record: `out` (default bench/out/NAME), and bench/results/NAME with --record."""
    bench = Path(__file__).resolve().parent
    return [out or bench / "out" / name] + ([bench / "results" / name] if also_results else [])


def publish(record: dict[str, Any], paths: list[Path], log: logging.Logger) -> list[Path]:
    """Write `record` to each of `paths` (never over an earlier file), print it as one JSON line, and return the
    paths written."""
    record = finite_or_none(record)
    written = [write_new(record, path) for path in paths]
    for path in written:
        log.info("wrote %s", path)
    print(json.dumps(record, separators=(",", ":")), flush=True)
    return written


def card_name(device_name: str) -> str:
    """A short name of the card for a record's file name: `NVIDIA H100 80GB HBM3` -> `h100`."""
    found = re.search(r"\b([A-Z]{1,2}\d{2,4}[A-Z]?)\b", device_name)
    return (found.group(1) if found else re.sub(r"\W+", "-", device_name)).lower()
