"""The trained model as an MLflow pyfunc: raw feature columns in, class probabilities out.

What is logged (no pickle anywhere): the model's safetensors weights and JSON config (`model.serialization`),
`preprocessing.json` with the feature names, the model's `Standardizer` (fitted on its training rows) and the
class names, and the `model/` and `registry/` packages as code. The pyfunc is a models-from-code model
(`registry/pyfunc_entry.py`): MLflow runs that file at load time instead of unpickling an object.

`predict` takes a pandas DataFrame with (at least) the feature columns on their raw scale, standardises them
with the model's `Standardizer` and runs the model in eval mode with gated inference (the utility gates skip
blocks, as in the pipeline's evaluation). It returns a DataFrame of class probabilities, one column per class
name, in the input's row order: the same numbers as `trained_model.model.predict_proba(torch.from_numpy(
trained_model.standardizer.transform(features)))`. The predicted label is the column of the largest value.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from mlflow.pyfunc import PythonModel, PythonModelContext

from model.data import Standardizer
from model.serialization import load_model, save_model
from model.trainer import TrainedModel
from model.transformer import CausalLatticeTransformer

ARTIFACT_KEY = "causal_lattice_model"
PREPROCESSING_FILE = "preprocessing.json"
ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")


def class_names_for(trained: TrainedModel, class_names: list[str]) -> list[str]:
    """The data's class names, or `class_<k>` when the data has none."""
    n_classes = trained.model.n_classes
    return list(class_names) if len(class_names) == n_classes else [f"class_{k}" for k in range(n_classes)]


def save_model_directory(trained: TrainedModel, class_names: list[str], directory: Path) -> Path:
    """Weights + config (safetensors/JSON) and `preprocessing.json`: everything `load_context` reads."""
    if trained.model.n_classes == 0:
        raise ValueError("the model has no task head (trained without a label column): nothing to predict")
    save_model(trained.model, directory)
    preprocessing = {
        "feature_names": list(trained.model.feature_names),
        "standardizer": trained.standardizer.as_dict(),
        "class_names": class_names_for(trained, class_names),
        "output": "class probabilities, one column per class name",
    }
    (directory / PREPROCESSING_FILE).write_text(json.dumps(preprocessing, indent=1))
    return directory


def stage_code(destination: Path) -> list[str]:
    """Copies of the `model` and `registry` packages (without byte code) for `code_paths`."""
    import model
    import registry

    paths = []
    for package in (model, registry):
        source = Path(str(package.__file__)).parent
        target = destination / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        paths.append(str(target))
    return paths


def predict_probabilities(
    model: CausalLatticeTransformer,
    standardizer: Standardizer,
    class_names: list[str],
    frame: pd.DataFrame,
) -> pd.DataFrame:
    """Standardise the raw feature columns of `frame` and return class probabilities (gated inference)."""
    missing = [name for name in model.feature_names if name not in frame.columns]
    if missing:
        raise ValueError(
            f"input is missing feature column(s) {missing}; the model needs columns {model.feature_names}"
        )
    standardised = standardizer.transform(frame[model.feature_names].to_numpy(dtype=np.float32))
    model.eval()
    probabilities = model.predict_proba(torch.from_numpy(standardised)).numpy().astype(np.float64)
    return pd.DataFrame(probabilities, columns=class_names, index=frame.index)


class CausalLatticePyfunc(PythonModel):
    """Loads weights, config and standardisation from the logged artifacts; predicts class probabilities."""

    def load_context(self, context: PythonModelContext) -> None:
        directory = Path(context.artifacts[ARTIFACT_KEY])
        preprocessing = json.loads((directory / PREPROCESSING_FILE).read_text())
        self._model = load_model(directory)
        self._standardizer = Standardizer.from_dict(preprocessing["standardizer"])
        self._class_names = [str(name) for name in preprocessing["class_names"]]

    # A pandas DataFrame hint: MLflow then infers no schema from the hint (the logged signature describes the
    # input) and does not warn.
    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return predict_probabilities(self._model, self._standardizer, self._class_names, frame)
