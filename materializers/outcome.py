"""Experiment outcomes (metrics + the protocol's files) stored file by file, with previews for the dashboard."""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from zenml.enums import ArtifactType, VisualizationType
from zenml.io import fileio
from zenml.materializers.base_materializer import BaseMaterializer

from model.artifacts import ProtocolOutcome

INDEX_FILE = "outcome.json"
PREVIEW_TYPES = {
    ".png": VisualizationType.IMAGE,
    ".csv": VisualizationType.CSV,
    ".html": VisualizationType.HTML,
    ".md": VisualizationType.MARKDOWN,
    ".json": VisualizationType.JSON,
}


class ProtocolOutcomeMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (ProtocolOutcome,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA_ANALYSIS

    def _file_path(self, relative: str) -> str:
        return os.path.join(self.uri, "files", relative)

    def save(self, data: ProtocolOutcome) -> None:
        fileio.makedirs(self.uri)
        for relative, content in data.files.items():
            fileio.makedirs(os.path.dirname(self._file_path(relative)))
            with fileio.open(self._file_path(relative), "wb") as handle:
                handle.write(content)
        with fileio.open(os.path.join(self.uri, INDEX_FILE), "w") as handle:
            handle.write(json.dumps({"metrics": data.metrics, "files": sorted(data.files)}, indent=2))

    def load(self, data_type: type[Any]) -> ProtocolOutcome:
        with fileio.open(os.path.join(self.uri, INDEX_FILE), "r") as handle:
            index = json.loads(handle.read())
        files = {}
        for relative in index["files"]:
            with fileio.open(self._file_path(relative), "rb") as handle:
                files[relative] = handle.read()
        return ProtocolOutcome(metrics=index["metrics"], files=files)

    def save_visualizations(self, data: ProtocolOutcome) -> dict[str, VisualizationType]:
        previews = {}
        for relative in sorted(data.files):
            kind = PREVIEW_TYPES.get(os.path.splitext(relative)[1])
            if kind is not None:
                previews[self._file_path(relative)] = kind
        return previews

    def extract_metadata(self, data: ProtocolOutcome) -> dict[str, Any]:
        return {k: v for k, v in data.metrics.items() if isinstance(v, (int, float, str, bool))}
