"""The pyfunc flavour saved and loaded locally (no registry): same probabilities as the TrainedModel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.models import infer_signature

from model.artifacts import TrainedModel
from model.config import ModelConfig, SplitConfig, SyntheticDataConfig, TrainConfig
from model.data.generator import make_synthetic_pancancer
from model.data.splits import MAIN_VIEW, split_dataset
from model.training.trainer import train_model
from registry.model_package import ENTRY_FILE, save_model_directory, stage_code
from registry.pyfunc import ARTIFACT_KEY, predict_probabilities
from tests.model.conftest import TINY_STRUCTURE


@pytest.fixture(scope="module")
def trained() -> tuple[TrainedModel, np.ndarray, list[str]]:
    dataset = make_synthetic_pancancer(SyntheticDataConfig(n_samples=120, n_genes=6, n_biomarkers=2, seed=3))
    split = split_dataset(dataset, SplitConfig())
    config = ModelConfig(d_model=16, n_heads=2, n_blocks=2, d_latent=8)
    result = train_model(
        split.train, config, TrainConfig(epochs=1, lr=3e-3, structure=TINY_STRUCTURE), progress=None
    )
    model = TrainedModel(
        result.model, result.history, {}, split.standardizer, MAIN_VIEW, 42, 1, 1, result.structure
    )
    return model, dataset.features, dataset.class_names


def test_saved_pyfunc_predicts_what_the_trained_model_predicts(trained, tmp_path: Path) -> None:
    model, raw, class_names = trained
    frame = pd.DataFrame(raw.astype(np.float64), columns=model.model.feature_names)
    expected = model.model.predict_proba(torch.from_numpy(model.standardizer.transform(raw))).numpy()
    weights = save_model_directory(model, class_names, tmp_path / "weights")
    output = predict_probabilities(model.model, model.standardizer, class_names, frame)
    target = tmp_path / "pyfunc"
    mlflow.pyfunc.save_model(
        str(target),
        python_model=str(ENTRY_FILE),
        artifacts={ARTIFACT_KEY: str(weights)},
        code_paths=stage_code(tmp_path / "code"),
        signature=infer_signature(frame.iloc[:3], output.iloc[:3]),
    )
    np.save(tmp_path / "raw.npy", raw)
    script = (
        "import sys, numpy as np, pandas as pd, mlflow\n"
        "UNSERVED = [['model', 'training'], ['model', 'evaluation'], ['model', 'report'], ['model', 'gates']]\n"
        f"m = mlflow.pyfunc.load_model({str(target)!r})\n"
        "cols = m.metadata.get_input_schema().input_names()\n"
        f"raw = np.load({str(tmp_path / 'raw.npy')!r})\n"
        "out = m.predict(pd.DataFrame(raw.astype(np.float64), columns=cols))\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, out.to_numpy())\n"
        "import model\n"
        "unserved = [m for m in sys.modules if m.split('.')[:2] in UNSERVED]\n"
        "print(model.__file__, unserved)\n"
        "print(list(out.columns))\n"
    )
    # A fresh process, outside the repository: the model's own code_paths must be enough.
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    *_, served_from, columns = result.stdout.strip().splitlines()
    assert columns == str(class_names)
    # It ran the logged code, not the repository's, and loading and predicting imported no training,
    # evaluation, report or gates module.
    assert served_from == f"{target / 'code' / 'model' / '__init__.py'} []", served_from
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(output.to_numpy(), expected, rtol=0, atol=1e-6)


def test_missing_feature_column_is_named(trained) -> None:
    model, raw, class_names = trained
    frame = pd.DataFrame(raw, columns=model.model.feature_names).drop(columns=[model.model.feature_names[0]])
    with pytest.raises(ValueError, match=model.model.feature_names[0]):
        predict_probabilities(model.model, model.standardizer, class_names, frame)


def test_the_served_code_has_no_training_loop_metrics_or_report(tmp_path: Path) -> None:
    """The code logged with the model is what inference imports: the network, its config and the
    standardisation; no training loop, torchmetrics, report, gates or ZenML."""
    paths = stage_code(tmp_path)
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py"))
    assert [Path(p).name for p in paths] == ["model", "registry"]
    assert "model/nn/transformer.py" in files and "registry/pyfunc.py" in files
    for package in (
        "model/training/",
        "model/evaluation/",
        "model/report/",
        "model/gates/",
        "model/data/files",
    ):
        assert not [f for f in files if f.startswith(package)], files
    for file in files:
        text = (tmp_path / file).read_text()
        for library in ("torchmetrics", "zenml", "sklearn", "plotly", "evidently"):
            assert f"import {library}" not in text and f"from {library}" not in text, (file, library)
