"""analyze_lattice: Exp-3, the learned lattice graph, its degree statistics and recovery of the true DAG."""

from typing import Annotated

import networkx as nx
from zenml import step

from materializers.lattice_graph import LatticeGraphMaterializer
from model.artifacts import ProtocolOutcome, TrainedModel
from model.config import ExperimentConfig
from model.data.tables import Dataset
from model.evaluation.lattice_check import check_lattice
from steps.support.runtime import begin_step
from steps.support.tracking import publish_outcome


@step(output_materializers={"lattice_graph": LatticeGraphMaterializer})
def analyze_lattice(
    trained_model: TrainedModel, dataset: Dataset, experiment: ExperimentConfig
) -> tuple[Annotated[ProtocolOutcome, "lattice_result"], Annotated[nx.DiGraph, "lattice_graph"]]:
    """Exp-3 on the main model's learned lattice.

    Reads `trained_model`, the true DAG of `dataset` (when it has one) and `visualization.graph_structure`.
    Writes and returns `lattice_result` (degree variance, sparsity, isolated nodes, recovery vs the true DAG,
    `lattice/lattice_graph.png`, `degree_dist.png`, `edges.csv`, `lattice_stats.json`) and `lattice_graph`
    (the thresholded lattice as a graph).
    """
    begin_step(experiment)
    outcome, graph = check_lattice(trained_model.model, dataset)
    if not experiment.visualization.graph_structure:
        outcome.files.pop("lattice/lattice_graph.png")
    publish_outcome(experiment, outcome)
    return outcome, graph
