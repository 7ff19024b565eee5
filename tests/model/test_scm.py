"""The synthetic pan-cancer SCM: seeded, acyclic, cohorts as environments, a label with known causes and
biomarkers whose link to the label flips sign in one cohort."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from model.config import SyntheticDataConfig
from model.data.generator import make_synthetic_pancancer, sample_with_label_logits
from model.data.validation import validate_dataset
from tests.model.conftest import tiny_synthetic_config


def _label_gap(data, name: str, group: str) -> float:
    column = data.features[:, data.feature_names.index(name)]
    in_group = data.groups == group
    return float(column[in_group & (data.labels == 1)].mean() - column[in_group & (data.labels == 0)].mean())


def test_synthetic_is_seeded() -> None:
    first = make_synthetic_pancancer(tiny_synthetic_config())
    second = make_synthetic_pancancer(tiny_synthetic_config())
    assert np.array_equal(first.features, second.features)
    assert np.array_equal(first.labels, second.labels) and np.array_equal(first.groups, second.groups)
    assert first.feature_names == second.feature_names and first.true_edges == second.true_edges
    assert first.fingerprint() == second.fingerprint()
    other = make_synthetic_pancancer(tiny_synthetic_config(seed=4))
    assert first.fingerprint() != other.fingerprint()


def test_shapes_cohorts_label_and_its_relatives() -> None:
    config = tiny_synthetic_config(
        n_samples=300, n_genes=8, n_biomarkers=3, groups=["a", "b", "c", "d"], flip_group="c"
    )
    data = make_synthetic_pancancer(config)
    assert data.features.shape == (300, 11) and data.features.dtype == np.float32
    assert sum(name.startswith("biomarker_") for name in data.feature_names) == 3
    assert set(data.groups) == {"a", "b", "c", "d"}
    assert set(data.labels.tolist()) == {0, 1} and data.n_classes == 2
    assert len(data.label_parents) == config.n_causal_genes
    assert all(name.startswith("gene_") for name in data.label_parents)
    assert data.label_children == ["biomarker_0", "biomarker_1", "biomarker_2"]
    validate_dataset(data, 20)


@pytest.mark.parametrize("graph", ["erdos_renyi", "scale_free"])
@pytest.mark.parametrize("mechanism", ["nonlinear", "linear"])
def test_true_dag_is_acyclic_over_gene_names(graph: str, mechanism: str) -> None:
    data = make_synthetic_pancancer(
        tiny_synthetic_config(
            n_samples=200, n_genes=30, edge_probability=0.15, graph=graph, mechanism=mechanism
        )
    )
    truth = data.true_graph()
    assert nx.is_directed_acyclic_graph(truth) and list(truth.nodes) == data.feature_names
    # about p * G(G-1)/2 = 65 edges either way
    assert 35 <= truth.number_of_edges() <= 95
    assert all(s.startswith("gene_") and t.startswith("gene_") for s, t in truth.edges)


def test_scale_free_graphs_have_hubs() -> None:
    def max_degree(graph: str) -> int:
        data = make_synthetic_pancancer(tiny_synthetic_config(n_genes=60, edge_probability=0.1, graph=graph))
        return max(dict(data.true_graph().degree()).values())

    assert max_degree("scale_free") > max_degree("erdos_renyi")


def test_biomarkers_flip_sign_in_the_flip_cohort_and_the_label_rests_on_its_causes() -> None:
    data = make_synthetic_pancancer(SyntheticDataConfig(n_samples=3000))
    for name in ("biomarker_0", "biomarker_1", "biomarker_2"):
        gaps = {g: _label_gap(data, name, g) for g in ("lung", "colon", "breast")}
        assert gaps["lung"] > 0.5 and gaps["colon"] > 0.5 and gaps["breast"] < -0.5, (name, gaps)
    assert all(_label_gap(data, "biomarker_3", g) > 0.5 for g in ("lung", "colon", "breast"))
    # Trained on lung and colon: all features collapse on breast, the label's parents do not.
    train = data.groups != "breast"
    x = (data.features - data.features.mean(0)) / data.features.std(0)
    parents = [data.feature_names.index(p) for p in data.label_parents]
    everything = LogisticRegression(max_iter=2000).fit(x[train], data.labels[train])
    causes = LogisticRegression(max_iter=2000).fit(x[train][:, parents], data.labels[train])
    oracle = causes.score(x[~train][:, parents], data.labels[~train])
    assert oracle > 0.75
    assert everything.score(x[~train], data.labels[~train]) < oracle - 0.2


def test_root_genes_shift_between_cohorts() -> None:
    data = make_synthetic_pancancer(SyntheticDataConfig(n_samples=3000, root_shift=1.0))
    truth = data.true_graph()
    roots = [n for n in truth.nodes if n.startswith("gene_") and truth.in_degree(n) == 0]
    spread = [
        np.ptp(
            [
                data.features[data.groups == g, data.feature_names.index(r)].mean()
                for g in ("lung", "colon", "breast")
            ]
        )
        for r in roots
    ]
    assert np.median(spread) > 0.5


def test_config_rejects_inconsistent_counts() -> None:
    with pytest.raises(ValueError, match="flip_group 'skin' is not one of groups"):
        SyntheticDataConfig(flip_group="skin")
    with pytest.raises(ValueError, match="n_flipped_biomarkers=5 exceeds n_biomarkers=4"):
        SyntheticDataConfig(n_flipped_biomarkers=5)


@pytest.mark.parametrize("nonlinearity", ["interaction", "sine", "abs"])
def test_nonlinear_label_term_beats_a_linear_reader_of_the_causes(nonlinearity: str) -> None:
    """Issue 21: the label's nonlinear term is out of a linear reader's reach: on the true causes, a
    nonlinear reader (gradient boosting) beats logistic regression on held-out rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    data = make_synthetic_pancancer(SyntheticDataConfig(n_samples=3000, label_nonlinearity=nonlinearity))
    causes = data.features[:, [data.feature_names.index(name) for name in data.label_parents]]
    train, test = slice(0, 2000), slice(2000, None)

    def accuracy(classifier) -> float:
        return classifier.fit(causes[train], data.labels[train]).score(causes[test], data.labels[test])

    linear = accuracy(LogisticRegression(max_iter=2000))
    boosted = accuracy(HistGradientBoostingClassifier(random_state=0))
    assert boosted > linear + 0.02, (nonlinearity, linear, boosted)


def test_linear_label_draws_the_same_scm_as_before_the_option() -> None:
    """`none` adds nothing and draws nothing: the features are those of the same SCM with a nonlinear term
    up to the label (genes are drawn first), and the label's logit is linear in its causes."""
    linear = make_synthetic_pancancer(SyntheticDataConfig(label_nonlinearity="none"))
    product = make_synthetic_pancancer(SyntheticDataConfig(label_nonlinearity="interaction"))
    genes = [k for k, name in enumerate(linear.feature_names) if name.startswith("gene_")]
    assert np.array_equal(linear.features[:, genes], product.features[:, genes])
    assert not np.array_equal(linear.labels, product.labels)


@pytest.mark.parametrize("nonlinearity", ["none", "interaction"])
def test_the_label_logits_are_the_labels_probabilities(nonlinearity: str) -> None:
    """The true logits belong to the same rows: the labels are draws from their probabilities (the mean label
    in each probability bin is that bin's probability, within sampling error), and the data is unchanged."""
    config = SyntheticDataConfig(n_samples=4000, label_nonlinearity=nonlinearity)
    data, logits = sample_with_label_logits(config)
    probability = 1.0 / (1.0 + np.exp(-logits))
    assert probability.shape == data.labels.shape
    for low in np.arange(0.0, 1.0, 0.2):
        rows = (probability >= low) & (probability < low + 0.2)
        assert rows.sum() > 100
        assert abs(data.labels[rows].mean() - probability[rows].mean()) < 0.05, low
    assert np.array_equal(make_synthetic_pancancer(config).features, data.features)


def test_interaction_needs_two_causes() -> None:
    with pytest.raises(ValueError, match="interaction' needs n_causal_genes >= 2"):
        SyntheticDataConfig(n_causal_genes=1)
