"""analyze_lattice: Exp-3, the learned lattice graph, its degree statistics and recovery of the true DAG."""

from typing import Annotated

import networkx as nx
from zenml import step

from materializers.lattice_graph import LatticeGraphMaterializer
from model.config import ExperimentConfig
from model.data import Dataset
from model.experiments import ExperimentOutcome, lattice_experiment
from model.trainer import TrainedModel
from steps.tracking import publish_outcome


@step(output_materializers={"lattice_graph": LatticeGraphMaterializer})
def analyze_lattice(
    trained_model: TrainedModel, dataset: Dataset, experiment: ExperimentConfig
) -> tuple[Annotated[ExperimentOutcome, "lattice_result"], Annotated[nx.DiGraph, "lattice_graph"]]:
    outcome, graph = lattice_experiment(trained_model.model, dataset.true_graph())
    if not experiment.visualization.graph_structure:
        outcome.files.pop("lattice/lattice_graph.png")
    publish_outcome(experiment, outcome)
    return outcome, graph
