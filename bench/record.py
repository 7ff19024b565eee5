"""What every benchmark does with its result: JSON without NaN (null instead), written to a new file only."""

from __future__ import annotations

import json
import math
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
