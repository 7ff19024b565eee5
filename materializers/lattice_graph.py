"""The learned lattice (a weighted networkx DiGraph) as node-link JSON, previewed as a drawing."""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

import networkx as nx
from zenml.enums import ArtifactType, VisualizationType
from zenml.io import fileio
from zenml.materializers.base_materializer import BaseMaterializer

from model.evaluation.plots import lattice_drawing

GRAPH_FILE = "lattice.json"


class LatticeGraphMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (nx.DiGraph,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def save(self, data: nx.DiGraph) -> None:
        with fileio.open(os.path.join(self.uri, GRAPH_FILE), "w") as handle:
            handle.write(json.dumps(nx.node_link_data(data, edges="edges"), indent=2))

    def load(self, data_type: type[Any]) -> nx.DiGraph:
        with fileio.open(os.path.join(self.uri, GRAPH_FILE), "r") as handle:
            return nx.node_link_graph(json.loads(handle.read()), directed=True, edges="edges")

    def save_visualizations(self, data: nx.DiGraph) -> dict[str, VisualizationType]:
        path = os.path.join(self.uri, "lattice.png")
        with fileio.open(path, "wb") as handle:
            handle.write(lattice_drawing(data, threshold=float(data.graph.get("threshold", 0.0))))
        return {path: VisualizationType.IMAGE}

    def extract_metadata(self, data: nx.DiGraph) -> dict[str, Any]:
        return {"n_nodes": data.number_of_nodes(), "n_edges": data.number_of_edges()}
