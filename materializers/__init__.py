"""ZenML materializers: they only serialise the project's artifact types (no pickle) and render previews."""

from materializers.dataset import DatasetMaterializer, DataSplitsMaterializer
from materializers.lattice_graph import LatticeGraphMaterializer
from materializers.outcome import ProtocolOutcomeMaterializer
from materializers.trained_model import TrainedModelMaterializer

__all__ = [
    "DataSplitsMaterializer",
    "DatasetMaterializer",
    "ProtocolOutcomeMaterializer",
    "LatticeGraphMaterializer",
    "TrainedModelMaterializer",
]
