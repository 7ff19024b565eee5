"""Script-bearing names (tests/integration/hostile_names.py) through one real run on the local MLflow stack: the
Markdown it writes (summaries, model card, promotion.md, the registered version's description) renders to text
structure only and shows the names as text; MLflow holds them verbatim as param and tag values, never in a key;
no file or artifact path is made of them. The report pages in a browser: tests/integration/test_report_browser.py.
"""

from __future__ import annotations

import json
import re

import pytest
from mlflow import MlflowClient

from registry import MODEL_NAME
from tests.integration.hostile_names import (
    COHORTS,
    DATA_STEM,
    FEATURES,
    LEAKY,
    OTHER_GROUP,
    PROFILE,
    inert_problems,
    rendered,
)

pytestmark = pytest.mark.integration

# Every path component the run writes: fixed names, step names and validated cohort names.
SAFE_COMPONENT = re.compile(r"[A-Za-z0-9_.\-]+")
HOSTILE = [*FEATURES, LEAKY, OTHER_GROUP, DATA_STEM, PROFILE]


@pytest.mark.parametrize(
    "document", ["summary.md", "summary.ja.md", "model_card.md", "promotion.md"]
)  # fmt: skip
def test_markdown_renders_to_text_structure_and_shows_the_names(hostile_run, document) -> None:
    markdown = (hostile_run.folder / "reports" / document).read_text()
    assert inert_problems(markdown) == []
    _, text = rendered(markdown)
    # The leaky feature is named by the feature_leakage gate's reason, in every document's gate table.
    assert repr(LEAKY) in text
    if document != "promotion.md":
        assert PROFILE in text and DATA_STEM in text
    if document.startswith("summary"):
        assert all(cohort in text for cohort in COHORTS)  # the leave-one-cohort-out table


def test_mlflow_keeps_the_names_as_values_and_out_of_keys_and_artifact_paths(hostile_run) -> None:
    client = MlflowClient(tracking_uri=hostile_run.tracking_uri, registry_uri=hostile_run.tracking_uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiment_ids)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and len(runs) > 1
    parent = parents[0]
    params = parent.data.params
    assert json.loads(params["data.feature_columns"]) == [*FEATURES, LEAKY]
    assert params["profile"] == PROFILE and params["data.path"].endswith(f"/{DATA_STEM}.csv")
    for run in runs:
        keys = [*run.data.params, *run.data.metrics, *run.data.tags]
        assert not [k for k in keys for name in HOSTILE if name in k], run.info.run_name
    assert f"subset_generalization/group_accuracy.{COHORTS[0]}" in parent.data.metrics  # a legal cohort name

    def artifact_paths(path: str | None = None) -> list[str]:
        found = []
        for item in client.list_artifacts(parent.info.run_id, path):
            found += artifact_paths(item.path) if item.is_dir else [item.path]
        return found

    paths = artifact_paths()
    assert "reports/summary.ja.html" in paths and f"subsets/drift_{COHORTS[0]}.html" in paths
    unsafe = [p for p in paths if not all(SAFE_COMPONENT.fullmatch(part) for part in p.split("/"))]
    assert unsafe == []
    written = [p.relative_to(hostile_run.folder) for p in hostile_run.folder.rglob("*")]
    assert [p for p in written if not all(SAFE_COMPONENT.fullmatch(part) for part in p.parts)] == []

    version = client.get_model_version_by_alias(MODEL_NAME, "challenger")
    assert version.tags["data.name"] == DATA_STEM and version.tags["config.profile"] == PROFILE
    assert repr(LEAKY) in version.tags["gate.feature_leakage.reason"]
    assert inert_problems(version.description) == []
    assert repr(LEAKY) in rendered(version.description)[1]
