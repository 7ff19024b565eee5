"""The trained model as an MLflow pyfunc: raw feature columns in, class probabilities out.

What is logged (no pickle anywhere; `registry/model_package.py` writes it): the model's safetensors weights and
JSON config (`model.nn.serialization`), `preprocessing.json` with the feature names, the model's `Standardizer`
(fitted on its training rows) and the class names, and as code the modules this file imports and nothing else:
no training loop, metrics or report. The pyfunc is a models-from-code model (`registry/pyfunc_entry.py`): MLflow
runs that file at load time instead of unpickling an object.

`predict` takes a pandas DataFrame with (at least) the feature columns on their raw scale, standardises them
with the model's `Standardizer` and runs the model in eval mode with routed inference (the router's switches skip
blocks, as in the pipeline's evaluation). It returns a DataFrame of class probabilities, one column per class
name, in the input's row order: the same numbers as `trained_model.model.predict_proba(torch.from_numpy(
trained_model.standardizer.transform(features)))`. The predicted label is the column of the largest value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from mlflow.pyfunc import PythonModel, PythonModelContext

from model.data.tables import Standardizer
from model.nn.serialization import load_model
from model.nn.transformer import CausalLatticeTransformer

ARTIFACT_KEY = "causal_lattice_model"
PREPROCESSING_FILE = "preprocessing.json"


def predict_probabilities(
    model: CausalLatticeTransformer,
    standardizer: Standardizer,
    class_names: list[str],
    frame: pd.DataFrame,
) -> pd.DataFrame:
    """Standardise the raw feature columns of `frame` and return class probabilities (routed inference)."""
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
