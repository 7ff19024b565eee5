"""ZenML materializers: they only serialise the project's artifact types (no pickle) and render previews."""

from materializers.dataset import DatasetMaterializer, DataSplitMaterializer
from materializers.lattice_graph import LatticeGraphMaterializer
from materializers.outcome import ExperimentOutcomeMaterializer
from materializers.trained_model import TrainedModelMaterializer

__all__ = [
    "DataSplitMaterializer",
    "DatasetMaterializer",
    "ExperimentOutcomeMaterializer",
    "LatticeGraphMaterializer",
    "TrainedModelMaterializer",
]
