from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from model.config import ModelConfig
from model.nn.serialization import CONFIG_FILE, WEIGHTS_FILE, load_model, save_model
from model.nn.transformer import CausalLatticeTransformer


def _trained_looking(model: CausalLatticeTransformer) -> CausalLatticeTransformer:
    """Move every weight away from its initial value so the roundtrip is a real check."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return model


def test_roundtrip_is_exact(
    tmp_path: Path, tiny_model: CausalLatticeTransformer, x_batch: torch.Tensor
) -> None:
    model = _trained_looking(tiny_model).eval()
    directory = save_model(model, tmp_path / "saved")
    loaded = load_model(directory)
    assert not loaded.training
    assert loaded.feature_names == model.feature_names
    assert loaded.n_classes == 2 and loaded.config == model.config
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for name in original:
        assert torch.equal(original[name], restored[name]), name
    with torch.no_grad():
        assert torch.equal(model(x_batch).logits, loaded(x_batch).logits)
        assert torch.equal(model(x_batch, dense=True).z, loaded(x_batch, dense=True).z)


def test_files_are_safetensors_and_json_without_pickle(
    tmp_path: Path, tiny_model: CausalLatticeTransformer
) -> None:
    directory = save_model(tiny_model, tmp_path)
    assert sorted(p.name for p in directory.iterdir()) == sorted([WEIGHTS_FILE, CONFIG_FILE])
    with safe_open(str(directory / WEIGHTS_FILE), framework="pt") as handle:
        keys = set(handle.keys())
        assert torch.equal(
            handle.get_tensor("lattice_encoder.sem.edge_logits"),
            tiny_model.lattice_encoder.sem.edge_logits.detach(),
        )
    assert keys == set(tiny_model.state_dict())
    raw = (directory / WEIGHTS_FILE).read_bytes()
    # The whole file is the safetensors layout and nothing else: an 8-byte header length, a JSON header, then
    # raw tensor bytes exactly covered by the header's offsets (no room for a pickled object anywhere).
    header_length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_length])
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    assert tensors.keys() == keys
    spans = sorted(tuple(v["data_offsets"]) for v in tensors.values())
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert len(raw) == 8 + header_length + spans[-1][1]
    assert not raw.startswith(b"PK\x03\x04")  # not a torch.save zip archive
    description = json.loads((directory / CONFIG_FILE).read_text())
    assert description["feature_names"] == tiny_model.feature_names
    assert ModelConfig(**description["model"]) == tiny_model.config


def test_unlabeled_model_roundtrip(tmp_path: Path, tiny_config: ModelConfig, x_batch: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = CausalLatticeTransformer([f"f{i}" for i in range(6)], 0, tiny_config).eval()
    loaded = load_model(save_model(model, tmp_path))
    assert loaded.head is None and loaded(x_batch).logits is None


def test_load_names_the_missing_file(tmp_path: Path, tiny_model: CausalLatticeTransformer) -> None:
    directory = save_model(tiny_model, tmp_path)
    (directory / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=WEIGHTS_FILE):
        load_model(directory)


SAVED_BEFORE_SUBPACKAGES = Path(__file__).resolve().parents[1] / "data" / "model_saved_before_subpackages"


def test_a_model_saved_before_model_was_split_into_subpackages_loads_and_predicts_the_same() -> None:
    """Weights are keyed by attribute names, not module paths: a model trained and saved by the flat `model/`
    (commit 5bd5807) loads into today's classes and gives the probabilities it gave then."""
    expected = json.loads((SAVED_BEFORE_SUBPACKAGES / "expected.json").read_text())
    model = load_model(SAVED_BEFORE_SUBPACKAGES)
    with torch.no_grad():
        probabilities = model.predict_proba(torch.tensor(expected["inputs"], dtype=torch.float32))
    torch.testing.assert_close(probabilities, torch.tensor(expected["probabilities"]), rtol=0, atol=1e-6)
