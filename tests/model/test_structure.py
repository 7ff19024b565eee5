"""The structure learner: it learns from data (small graphs, oriented), enforces acyclicity and uses cohorts."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from model.config import StructureConfig
from model.structure.acyclicity import AugmentedLagrangian, SpectralRadius
from model.structure.equations import StructuralEquationModel, additive_basis
from model.structure.fit import break_cycles, fit_structure
from model.structure.graph_ops import descendants, is_acyclic, strong_components

FAST = StructureConfig(steps_per_round=100, min_rounds=6, max_rounds=20)


def _standardise(columns: list[np.ndarray]) -> torch.Tensor:
    data = np.stack(columns, axis=1)
    return torch.tensor((data - data.mean(0)) / data.std(0), dtype=torch.float32)


def _graph(sem: StructuralEquationModel) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(sem.n_nodes))
    graph.add_edges_from(torch.nonzero(sem.adjacency() >= 0.5).tolist())
    return graph


def _fit(x: torch.Tensor, groups: torch.Tensor, y: torch.Tensor | None = None, n_classes: int = 0):
    torch.manual_seed(0)
    sem = StructuralEquationModel(x.shape[1], n_classes, int(groups.max()) + 1)
    fit = fit_structure(sem, x, y, groups, FAST, 0.5, torch.Generator().manual_seed(0))
    return sem, fit, _graph(sem)


def _cohorts(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    groups = rng.integers(0, 2, n)
    return groups, np.where(groups == 0, -1.0, 1.0)


def test_spectral_radius_is_zero_on_dags_and_the_cycle_product_on_a_cycle() -> None:
    dag = torch.tensor([[0.0, 0.9, 0.8], [0.0, 0.0, 0.7], [0.0, 0.0, 0.0]])
    # Zero up to the 1e-8 the power iteration adds to every entry: ρ of the perturbed 3-node DAG ~ (1e-8)^(1/3).
    assert float(SpectralRadius(3, 50, dag.device)(dag)) == pytest.approx(0.0, abs=1e-4)
    cyclic = dag.clone()
    cyclic[2, 0] = 0.6  # cycles 0 -> 1 -> 2 -> 0 (0.9·0.7·0.6) and 0 -> 2 -> 0 (0.8·0.6)
    expected = max(abs(torch.linalg.eigvals(cyclic * cyclic)))
    assert float(SpectralRadius(3, 200, dag.device)(cyclic)) == pytest.approx(float(expected), rel=1e-4)
    # A 2-cycle: p·q, not scaled by the width. Its eigenvalues ±p·q share a modulus, so the iteration oscillates
    # between them rather than converging, and the estimate is within a few percent.
    two_cycle = torch.tensor([[0.0, 0.5], [0.4, 0.0]])
    assert float(SpectralRadius(2, 10, dag.device)(two_cycle)) == pytest.approx(0.2, rel=0.05)


def test_spectral_radius_gradient_is_the_eigenvalues_and_warm_starts_track_it() -> None:
    generator = torch.Generator().manual_seed(0)
    adjacency = torch.rand(40, 40, generator=generator, dtype=torch.float64).fill_diagonal_(0.0)
    radius = SpectralRadius(40, 100, adjacency.device)
    estimate = adjacency.clone().requires_grad_(True)
    radius(estimate).backward()
    reference = adjacency.clone().requires_grad_(True)
    torch.linalg.eigvals(reference * reference).abs().max().backward()
    torch.testing.assert_close(estimate.grad, reference.grad)
    # A small change, two steps from the last eigenvectors: still the new matrix's ρ.
    radius.iterations = 2
    moved = adjacency * (1 + 0.05 * torch.rand(40, 40, generator=generator, dtype=torch.float64))
    expected = torch.linalg.eigvals(moved * moved).abs().max()
    assert float(radius(moved)) == pytest.approx(float(expected), rel=1e-4)


def test_lagrangian_grows_rho_only_without_progress_and_rests_at_a_dag() -> None:
    config = StructureConfig(rho_init=1.0, rho_growth=10.0, rho_progress=0.5)
    lagrangian = AugmentedLagrangian(rho=1.0)
    lagrangian.update(1.0, False, config)
    assert (lagrangian.rho, lagrangian.alpha) == (1.0, 1.0)
    lagrangian.update(0.4, False, config)  # h fell below half: rho stays
    assert (lagrangian.rho, lagrangian.alpha) == (1.0, pytest.approx(1.4))
    lagrangian.update(0.3, True, config)  # the thresholded graph is a DAG: nothing changes
    assert (lagrangian.rho, lagrangian.alpha, lagrangian.last_h) == (1.0, pytest.approx(1.4), 0.4)
    lagrangian.update(0.3, False, config)  # not below half: rho grows, then alpha with the new rho
    assert (lagrangian.rho, lagrangian.alpha) == (10.0, pytest.approx(4.4))


def test_basis_and_masks() -> None:
    basis = additive_basis(torch.tensor([[0.0, 2.0]]))
    assert basis.shape == (1, 2, 6) and float(basis[0, 1, 0]) == 2.0 and float(basis[0, 1, 5]) == 1.0
    sem = StructuralEquationModel(4, 2, 1)
    masks = sem.sample_masks(3, torch.Generator().manual_seed(0))
    assert masks.shape == (3, 5, 5)
    torch.testing.assert_close(masks, masks.round())  # 0/1 forward values (straight-through)
    assert torch.equal(masks.diagonal(dim1=1, dim2=2), torch.zeros(3, 5))


def _plain_masks(sem: StructuralEquationModel, samples: int, seed: int) -> torch.Tensor:
    """`sample_masks` as the plain autograd expression (what autograd would keep five S·N² tensors for)."""
    logits = sem.edge_logits / sem.temperature
    uniform = torch.rand((samples, *logits.shape), generator=torch.Generator().manual_seed(seed))
    uniform = uniform.clamp(1e-6, 1 - 1e-6)
    soft = torch.sigmoid(logits + uniform.log() - (-uniform).log1p())
    return ((soft > 0.5).to(soft.dtype) + soft - soft.detach()) * sem.off_diagonal


def _plain_mechanisms(sem: StructuralEquationModel, x, y, masks) -> torch.Tensor:
    """The cohort-free mechanisms with the gated weight built whole, `bmm(basis, weight ⊙ gate) + bias`."""
    labels = torch.nn.functional.one_hot(y, sem.n_classes).float() - 1.0 / sem.n_classes
    basis = torch.cat([additive_basis(x).flatten(1), labels], dim=1)
    gate = masks[:, :, sem.output_node][:, sem.basis_node]
    out = torch.bmm(basis.view(masks.shape[0], -1, basis.shape[1]), sem.weight * gate).reshape(x.shape[0], -1)
    return out + sem.bias


def _gradients(sem: StructuralEquationModel, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    sem.zero_grad()
    loss.backward()
    return {name: p.grad.clone() for name, p in sem.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("block_elements", [None, 4_000])
def test_lean_masks_and_gated_product_equal_the_plain_expressions(monkeypatch, block_elements) -> None:
    """The memory-lean straight-through masks and the blocked gated product give autograd's own values and
    gradients: bit for bit with one column block (every width up to about 1,600 features, so every CPU
    reference), to rounding when the columns are split into blocks (larger widths)."""
    if block_elements is not None:
        monkeypatch.setattr("model.structure.kernels._GATED_BLOCK_ELEMENTS", block_elements)
    torch.manual_seed(0)
    sem = StructuralEquationModel(23, 2, 3, temperature=0.5)
    with torch.no_grad():
        for parameter in sem.parameters():
            parameter.normal_(0.0, 0.5)
    x, y = torch.randn(64, 23), torch.randint(2, (64,))
    weights = torch.linspace(-1.0, 1.0, 4 * 24 * 24).view(4, 24, 24)
    lean_masks = sem.sample_masks(4, torch.Generator().manual_seed(1))
    plain_masks = _plain_masks(sem, 4, 1)
    assert torch.equal(lean_masks, plain_masks)
    assert torch.equal(
        torch.cat(list(_gradients(sem, (lean_masks * weights).sum()).values())),
        torch.cat(list(_gradients(sem, (plain_masks * weights).sum()).values())),
    )
    masks = lean_masks.detach().requires_grad_(True)
    lean_mean, lean_logits = sem.mechanisms(x, y, None, masks)
    lean = torch.cat([lean_mean, lean_logits], dim=1)
    plain = _plain_mechanisms(sem, x, y, masks)
    lean_gradients = _gradients(sem, (lean.sin()).sum()) | {"masks": masks.grad.clone()}
    masks.grad = None
    plain_gradients = _gradients(sem, (plain.sin()).sum()) | {"masks": masks.grad.clone()}
    assert set(lean_gradients) == {"weight", "bias", "masks"}
    if block_elements is None:
        assert torch.equal(lean, plain)
        assert all(torch.equal(lean_gradients[k], plain_gradients[k]) for k in lean_gradients)
    else:
        torch.testing.assert_close(lean, plain)
        for name, gradient in lean_gradients.items():
            torch.testing.assert_close(gradient, plain_gradients[name])


def test_a_node_never_sees_itself() -> None:
    sem = StructuralEquationModel(4, 2, 2)
    with torch.no_grad():
        sem.weight.normal_()
        sem.edge_logits.fill_(10.0)
    x, y, groups = torch.randn(6, 4), torch.tensor([0, 1] * 3), torch.tensor([0, 1] * 3)
    mean, logits = sem.mechanisms(x, y, groups, sem.hard_mask())
    moved = x.clone()
    moved[:, 2] += 5.0
    mean_moved, _ = sem.mechanisms(moved, y, groups, sem.hard_mask())
    assert torch.equal(mean[:, 2], mean_moved[:, 2]) and not torch.equal(mean[:, 0], mean_moved[:, 0])
    _, flipped = sem.mechanisms(x, 1 - y, groups, sem.hard_mask())
    assert logits is not None and torch.equal(logits, flipped)  # the label's own value never feeds its logits


def test_recovers_and_orients_a_nonlinear_chain() -> None:
    rng = np.random.default_rng(0)
    groups, shift = _cohorts(rng, 800)
    a = shift + rng.normal(size=800)
    b = 1.5 * np.tanh(1.5 * a) + 0.5 * rng.normal(size=800)
    c = 1.5 * np.sin(1.5 * b) + 0.5 * rng.normal(size=800)
    sem, fit, graph = _fit(_standardise([a, b, c]), torch.tensor(groups))
    assert set(graph.edges) == {(0, 1), (1, 2)}
    assert fit.removed_cycle_edges == [] and nx.is_directed_acyclic_graph(graph)


def test_a_round_whose_nll_still_falls_is_not_settled() -> None:
    """The settle rule asks the score to have stopped falling too, not only the lattice to have stopped moving:
    with a tolerance no round's fall meets, the schedule runs to `max_rounds`; with the default it settles."""
    rng = np.random.default_rng(0)
    groups, shift = _cohorts(rng, 800)
    a = shift + rng.normal(size=800)
    b = 1.5 * np.tanh(1.5 * a) + 0.5 * rng.normal(size=800)
    x = _standardise([a, b])

    def fit_with(tolerance: float):
        torch.manual_seed(0)
        sem = StructuralEquationModel(2, 0, 2)
        config = FAST.model_copy(update={"settle_nll_tolerance": tolerance})
        history: list[dict[str, float]] = []
        fit = fit_structure(
            sem, x, None, torch.tensor(groups), config, 0.5, torch.Generator().manual_seed(0), history.append
        )
        return fit, history

    settled, history = fit_with(StructureConfig().settle_nll_tolerance)
    assert settled.rounds < FAST.max_rounds
    assert all(r["nll_fall"] <= 0.01 for r in history[-FAST.patience :])
    assert "nll_fall" not in history[0] and all("nll_fall" in r for r in history[1:])
    never, _ = fit_with(
        -1.0
    )  # (model_copy does not validate) no NLL falls by less than -100 %: never settled
    assert never.rounds == FAST.max_rounds


def test_recovers_and_orients_a_collider() -> None:
    rng = np.random.default_rng(1)
    groups, _ = _cohorts(rng, 800)
    a, b = rng.normal(size=800), rng.normal(size=800)
    c = np.tanh(2 * a) + 0.8 * b + 0.4 * rng.normal(size=800)
    _, _, graph = _fit(_standardise([a, b, c]), torch.tensor(groups))
    assert set(graph.edges) == {(0, 2), (1, 2)}


def test_label_node_takes_its_causes_as_parents_and_a_flipping_biomarker_as_child() -> None:
    """y <- x0, x1; biomarker = ±s·y + noise with the sign flipping in one cohort; x2 unrelated."""
    rng = np.random.default_rng(2)
    n = 900
    groups = rng.integers(0, 3, n)
    x0, x1, x2 = rng.normal(size=(3, n))
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * x0 - 2 * x1)))).astype(np.int64)
    strength = np.array([1.5, 1.0, -1.2])[groups]
    biomarker = strength * (2 * y - 1) + rng.normal(size=n)
    sem, _, graph = _fit(
        _standardise([x0, x1, x2, biomarker]), torch.tensor(groups), torch.tensor(y), n_classes=2
    )
    label = 4
    assert set(graph.predecessors(label)) == {0, 1}
    assert set(graph.successors(label)) == {3}
    assert graph.degree(2) == 0


def test_break_cycles_removes_the_weakest_edge_of_each_cycle() -> None:
    sem = StructuralEquationModel(3, 0, 1)
    with torch.no_grad():
        sem.edge_logits.fill_(-10.0)
        sem.edge_logits[0, 1], sem.edge_logits[1, 2], sem.edge_logits[2, 0] = 5.0, 4.0, 1.0
    removed = break_cycles(sem, 0.5)
    assert [(s, t) for s, t, _ in removed] == [(2, 0)]
    assert nx.is_directed_acyclic_graph(_graph(sem))
    assert break_cycles(sem, 0.5) == []


def test_break_cycles_makes_even_a_dense_lattice_acyclic_and_keeps_edges_outside_cycles() -> None:
    sem = StructuralEquationModel(30, 0, 1)
    with torch.no_grad():
        sem.edge_logits.normal_(1.0, 2.0)  # most pairs linked both ways
        sem.edge_logits[:, 29] = 5.0  # node 29: a sink every other node points to
        sem.edge_logits[29, :] = -10.0
    removed = break_cycles(sem, 0.5)
    graph = _graph(sem)
    assert nx.is_directed_acyclic_graph(graph) and removed
    assert all(graph.has_edge(i, 29) for i in range(29))  # on no cycle: kept


def test_cycle_routines_agree_with_networkx_on_random_graphs() -> None:
    generator = torch.Generator().manual_seed(3)
    for density in (0.02, 0.05, 0.2):
        linked = (torch.rand(60, 60, generator=generator) < density).fill_diagonal_(False)
        graph = nx.DiGraph(linked.numpy())
        assert is_acyclic(linked) == nx.is_directed_acyclic_graph(graph)
        components = strong_components(linked).tolist()
        assert {frozenset(c) for c in nx.strongly_connected_components(graph)} == {
            frozenset(i for i, c in enumerate(components) if c == label) for label in set(components)
        }
        for node in (0, 17):
            reached = set(torch.nonzero(descendants(linked, node)).flatten().tolist())
            on_cycle = any(nx.has_path(graph, child, node) for child in graph.successors(node))
            assert reached == nx.descendants(graph, node) | ({node} if on_cycle else set())
