"""The `report` block of the run configuration (`ExperimentConfig.report`, model/config.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ReportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The summary's language. en or ja: reports/summary.{md,html} in that language; both: English there and
    # Japanese (the seed's own terms and VII headings) in reports/summary.ja.{md,html}. One set of numbers.
    language: Literal["en", "ja", "both"] = "both"
