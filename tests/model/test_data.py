"""Loading and validating data: the synthetic SCM, the shipped set, errors that name the fix (tables:
test_tables.py)."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest

from model.config import BreastCancerDataConfig, SplitConfig
from model.data import (
    GROUPS,
    Dataset,
    DataValidationError,
    load_breast_cancer_dataset,
    load_dataset,
    make_synthetic_pancancer,
    split_dataset,
    validate_dataset,
)
from tests.model.conftest import tiny_synthetic_config

# ---------------------------------------------------------------- synthetic SCM


def test_synthetic_is_seeded() -> None:
    first = make_synthetic_pancancer(tiny_synthetic_config())
    second = make_synthetic_pancancer(tiny_synthetic_config())
    assert np.array_equal(first.features, second.features)
    assert first.labels is not None and second.labels is not None
    assert np.array_equal(first.labels, second.labels)
    assert first.groups is not None and second.groups is not None
    assert np.array_equal(first.groups, second.groups)
    assert first.feature_names == second.feature_names
    assert first.true_edges == second.true_edges
    assert first.fingerprint() == second.fingerprint()
    other = make_synthetic_pancancer(tiny_synthetic_config(seed=4))
    assert not np.array_equal(first.features, other.features)
    assert first.fingerprint() != other.fingerprint()


def test_synthetic_shapes_groups_labels() -> None:
    data = make_synthetic_pancancer(tiny_synthetic_config(n_samples=300, n_genes=8, n_biomarkers=3))
    assert data.features.shape == (300, 11) and data.features.dtype == np.float32
    assert data.n_features == 11 and len(set(data.feature_names)) == 11
    assert sum(name.startswith("biomarker_") for name in data.feature_names) == 3
    assert data.groups is not None and set(data.groups) == set(GROUPS) == {"lung", "colon", "breast"}
    assert data.labels is not None and set(data.labels.tolist()) == {0, 1}
    assert data.n_classes == 2
    validate_dataset(data, 20)


def test_synthetic_true_dag_is_acyclic_over_feature_names() -> None:
    data = make_synthetic_pancancer(tiny_synthetic_config(n_samples=200, n_genes=12, edge_probability=0.4))
    graph = data.true_graph()
    assert graph is not None
    assert graph.number_of_edges() > 0
    assert nx.is_directed_acyclic_graph(graph)
    assert list(graph.nodes) == data.feature_names
    for source, target in graph.edges:
        assert source in data.feature_names and target in data.feature_names
        assert source.startswith("gene_") and target.startswith("gene_")


def test_synthetic_biomarkers_are_label_correlates_that_differ_by_cohort() -> None:
    data = make_synthetic_pancancer(tiny_synthetic_config(n_samples=1500, n_genes=6, n_biomarkers=2))
    assert data.labels is not None and data.groups is not None
    column = data.features[:, data.feature_names.index("biomarker_0")]
    gaps = {}
    for group in GROUPS:
        in_group = data.groups == group
        gaps[group] = (
            column[in_group & (data.labels == 1)].mean() - column[in_group & (data.labels == 0)].mean()
        )
    assert gaps["lung"] > gaps["colon"] > gaps["breast"]


# ---------------------------------------------------------------- validation errors


def _dataset(n: int = 60, **changes: object) -> Dataset:
    rng = np.random.default_rng(0)
    base = Dataset(
        features=rng.normal(size=(n, 3)).astype(np.float32),
        feature_names=["a", "b", "c"],
        labels=(np.arange(n) % 2).astype(np.int64),
        class_names=["no", "yes"],
        groups=np.array(["x", "y"] * (n // 2)),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_valid_dataset_passes() -> None:
    validate_dataset(_dataset(), 20)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_value_names_feature_and_row(bad: float) -> None:
    data = _dataset()
    data.features[7, 1] = bad
    with pytest.raises(DataValidationError, match=r"feature 'b' .* at row 7"):
        validate_dataset(data, 20)


def test_single_class_label_is_rejected() -> None:
    data = _dataset(labels=np.zeros(60, dtype=np.int64))
    with pytest.raises(DataValidationError, match=r"single class \('no'\)"):
        validate_dataset(data, 20)


def test_small_group_is_named() -> None:
    groups = np.array(["x"] * 55 + ["tiny"] * 5)
    with pytest.raises(DataValidationError, match=r"\('tiny', 5\).*min_group_size=20"):
        validate_dataset(_dataset(groups=groups), 20)
    with pytest.raises(DataValidationError, match="tiny"):
        split_dataset(_dataset(groups=groups), SplitConfig())


def test_duplicate_feature_names_are_rejected() -> None:
    with pytest.raises(DataValidationError, match=r"duplicate feature name\(s\) \['a'\]"):
        validate_dataset(_dataset(feature_names=["a", "b", "a"]), 20)


def test_too_few_rows_are_rejected() -> None:
    with pytest.raises(DataValidationError, match="only 30 rows"):
        validate_dataset(_dataset(n=30, groups=None), 20)


# ---------------------------------------------------------------- shipped data


def test_breast_cancer_loader() -> None:
    data = load_dataset(BreastCancerDataConfig(), 20)
    assert data.features.shape == (569, 30)
    assert data.n_features == 30 and all(" " not in name for name in data.feature_names)
    assert data.class_names == ["malignant", "benign"]
    assert data.labels is not None and set(data.labels.tolist()) == {0, 1}
    assert data.groups is None and data.true_edges is None
    assert data.name == "breast_cancer"
    assert load_breast_cancer_dataset().fingerprint() == data.fingerprint()
    np.testing.assert_allclose(split_dataset(data, SplitConfig()).train.features.mean(axis=0), 0.0, atol=1e-4)
