"""Save and load a trained model as safetensors weights plus a JSON config; loading never unpickles."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from model.config import saved_model_config
from model.nn.transformer import CausalLatticeTransformer

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "load_model", "save_model"]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model_config.json"


def save_model(model: CausalLatticeTransformer, directory: str | Path) -> Path:
    """Write the model's weights (`WEIGHTS_FILE`) and what rebuilds it (`CONFIG_FILE`) into `directory`.

    The derived lattice buffers are not stored: `load_model` rebuilds them from the weights.

    Args:
        model (CausalLatticeTransformer): the trained model.
        directory (str | Path): where to write; created when missing, its two files overwritten.

    Returns:
        Path: the directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_FILE))
    description = {
        "feature_names": model.feature_names,
        "n_classes": model.n_classes,
        "n_groups": model.n_groups,
        "model": model.config.model_dump(mode="json"),
    }
    (directory / CONFIG_FILE).write_text(json.dumps(description, indent=2))
    return directory


def load_model(directory: str | Path) -> CausalLatticeTransformer:
    """Rebuild a model that `save_model` wrote, in eval mode, without unpickling anything.

    A model saved by an earlier version loads too: a renamed configuration key is read under its current name.

    Args:
        directory (str | Path): the directory holding `WEIGHTS_FILE` and `CONFIG_FILE`.

    Returns:
        CausalLatticeTransformer: the model on the CPU, with its lattice buffers recomputed.

    Raises:
        FileNotFoundError: either file is missing.
    """
    directory = Path(directory)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} is missing: not a saved causal lattice model")
    description = json.loads((directory / CONFIG_FILE).read_text())
    model = CausalLatticeTransformer(
        description["feature_names"],
        int(description["n_classes"]),
        saved_model_config(description["model"]),
        int(description["n_groups"]),
    )
    model.load_state_dict(load_file(str(directory / WEIGHTS_FILE)))
    model.refresh_lattice()  # the derived lattice buffers are not stored: rebuild them from the weights
    model.eval()
    return model
