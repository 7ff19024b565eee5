"""Which rows a training invocation learns from and is tested on: the typed data view.

`DataView()` is the main stratified split; `DataView(kind="group", group=g)` trains and tests within cohort `g`
(seed VI.3 `train_subset`); `DataView(kind="logo", group=g)` trains on every other cohort and tests on all of
`g` (leave-one-group-out). `str(view)` (`main`, `group:lung`, `logo:lung`) is only for people and MLflow tags;
`DataView.parse` is its one inverse.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

ViewKind = Literal["main", "group", "logo"]


class DataView(BaseModel):
    """A data view; hashable, so it keys the splits that load_data makes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ViewKind = "main"
    group: str | None = None

    @model_validator(mode="after")
    def _group_matches_kind(self) -> DataView:
        if (self.kind == "main") != (self.group is None):
            raise ValueError(
                f"data view kind {self.kind!r} with group {self.group!r}: 'main' takes no group, "
                "'group' and 'logo' name one"
            )
        return self

    def __str__(self) -> str:
        return self.kind if self.group is None else f"{self.kind}:{self.group}"

    @classmethod
    def parse(cls, text: str) -> DataView:
        """Inverse of `str(view)`: `main`, `group:<name>` or `logo:<name>`."""
        kind, _, group = text.partition(":")
        if kind not in ("main", "group", "logo") or (kind == "main") == bool(group):
            raise ValueError(f"unknown data view {text!r}: use 'main', 'group:<name>' or 'logo:<name>'")
        return cls(kind=kind, group=group or None)  # type: ignore[arg-type]


MAIN_VIEW = DataView()


def cohort_views(subsets: list[str]) -> list[DataView]:
    """The per-cohort views of `evaluation.subsets`: within each cohort, then leaving it out."""
    return [DataView(kind=kind, group=group) for group in subsets for kind in ("group", "logo")]
