"""A trained model as safetensors weights + JSON (config, history, metrics, Standardizer, view); never pickled."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from typing import Any, ClassVar

from zenml.enums import ArtifactType, VisualizationType
from zenml.io import fileio
from zenml.materializers.base_materializer import BaseMaterializer

from model.artifacts import EpochRecord, RuntimeInfo, TrainedModel
from model.data.splits import DataView
from model.data.tables import Standardizer
from model.nn.serialization import CONFIG_FILE, WEIGHTS_FILE, load_model, save_model
from model.structure.equations import StructureFit

RECORD_FILE = "training_record.json"


class TrainedModelMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (TrainedModel,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.MODEL

    def save(self, data: TrainedModel) -> None:
        record = {
            "history": [asdict(epoch) for epoch in data.history],
            "test_metrics": data.test_metrics,
            "standardizer": data.standardizer.as_dict(),
            "view": str(data.view),
            "seed": data.seed,
            "n_train": data.n_train,
            "n_test": data.n_test,
            "structure": asdict(data.structure),
            "runtime": None if data.runtime is None else data.runtime.as_dict(),
        }
        with tempfile.TemporaryDirectory() as staging:
            save_model(data.model, staging)
            with open(os.path.join(staging, RECORD_FILE), "w") as handle:
                json.dump(record, handle)
            fileio.makedirs(self.uri)
            for name in (WEIGHTS_FILE, CONFIG_FILE, RECORD_FILE):
                fileio.copy(os.path.join(staging, name), os.path.join(self.uri, name), overwrite=True)

    def load(self, data_type: type[Any]) -> TrainedModel:
        with tempfile.TemporaryDirectory() as staging:
            for name in (WEIGHTS_FILE, CONFIG_FILE, RECORD_FILE):
                fileio.copy(os.path.join(self.uri, name), os.path.join(staging, name))
            model = load_model(staging)
            with open(os.path.join(staging, RECORD_FILE)) as handle:
                record = json.load(handle)
        return TrainedModel(
            model=model,
            history=[EpochRecord(**epoch) for epoch in record["history"]],
            test_metrics=record["test_metrics"],
            standardizer=Standardizer.from_dict(record["standardizer"]),
            view=DataView.parse(record["view"]),
            seed=record["seed"],
            n_train=record["n_train"],
            n_test=record["n_test"],
            structure=StructureFit(
                **{k: v for k, v in record["structure"].items() if k != "removed_cycle_edges"},
                removed_cycle_edges=[tuple(edge) for edge in record["structure"]["removed_cycle_edges"]],
            ),
            runtime=RuntimeInfo.from_dict(record["runtime"]) if record.get("runtime") else None,
        )

    def save_visualizations(self, data: TrainedModel) -> dict[str, VisualizationType]:
        config = data.model.config
        lines = [
            f"### causal lattice transformer ({data.view}, seed {data.seed})",
            f"- {len(data.model.feature_names)} features, {data.model.n_classes} classes, d_model {config.d_model}, "
            f"{config.n_blocks} blocks, {sum(p.numel() for p in data.model.parameters())} parameters",
            f"- trained on {data.n_train} rows for {len(data.history)} epochs, tested on {data.n_test} rows",
            *([f"- runtime: {data.runtime.describe()}"] if data.runtime else []),
            "",
            "| metric | value |",
            "|---|---|",
            *[f"| {k} | {v:.4f} |" for k, v in data.test_metrics.items()],
        ]
        path = os.path.join(self.uri, "summary.md")
        with fileio.open(path, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return {path: VisualizationType.MARKDOWN}

    def extract_metadata(self, data: TrainedModel) -> dict[str, Any]:
        return {k: float(v) for k, v in data.test_metrics.items()}
