from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from model.config import (
    BreastCancerDataConfig,
    ExperimentConfig,
    ModelConfig,
    SyntheticDataConfig,
    TableDataConfig,
    TrainConfig,
    parse_experiment,
)
from model.errors import ConfigError
from model.run_config import ALLOWED_STEP_KEYS, ALLOWED_TOP_LEVEL, read_run_config
from pipelines.plan import step_names


def test_defaults_are_the_seed_configuration() -> None:
    config = ExperimentConfig()
    assert config.profile == "seed"
    assert isinstance(config.data, SyntheticDataConfig)
    assert (config.train.seed, config.train.batch_size, config.train.epochs) == (42, 64, 50)
    assert (config.train.lr, config.train.optimizer) == (1e-4, "AdamW")
    lam = config.train.lambdas
    assert (lam.causal, lam.geometric, lam.reg) == (0.5, 0.3, 0.2)
    assert config.model == ModelConfig()


def test_parse_nested_and_discriminated_data() -> None:
    config = parse_experiment(
        {"profile": "quick", "data": {"kind": "breast_cancer"}, "model": {"d_model": 16, "n_heads": 2}}
    )
    assert isinstance(config.data, BreastCancerDataConfig)
    assert config.model.d_model == 16 and config.model.n_blocks == ModelConfig().n_blocks
    table = parse_experiment({"data": {"kind": "table", "path": "x.csv", "label_column": "y"}})
    assert isinstance(table.data, TableDataConfig) and table.data.path == Path("x.csv")


def test_unknown_key_is_rejected_with_its_dotted_path() -> None:
    with pytest.raises(ConfigError) as error:
        parse_experiment({"model": {"d_modle": 16}})
    assert "parameters.experiment.model.d_modle: unknown key" in str(error.value)
    with pytest.raises(ConfigError, match=r"parameters\.experiment\.trian: unknown key"):
        parse_experiment({"trian": {}})
    with pytest.raises(ConfigError, match=r"parameters\.experiment\.train\.lambdas\.causel: unknown key"):
        parse_experiment({"train": {"lambdas": {"causel": 1.0}}})


def test_a_renamed_key_is_refused_with_its_new_name() -> None:
    """The router's threshold and the promotion gate on its accuracy drop were renamed (a "gate" is a promotion
    gate only): an old configuration is told the new name."""
    with pytest.raises(
        ConfigError, match=r"parameters\.experiment\.model\.gate_threshold: renamed to route_threshold"
    ):
        parse_experiment({"model": {"gate_threshold": 0.5}})
    with pytest.raises(
        ConfigError, match=r"gates\.max_gated_accuracy_drop: renamed to max_routed_accuracy_drop"
    ):
        parse_experiment({"gates": {"max_gated_accuracy_drop": 0.01}})


def test_wrong_type_is_named() -> None:
    with pytest.raises(ConfigError) as error:
        parse_experiment({"train": {"epochs": "many"}})
    message = str(error.value)
    assert "parameters.experiment.train.epochs" in message and "'many'" in message
    with pytest.raises(ConfigError, match=r"parameters\.experiment\.model\.dropout"):
        parse_experiment({"model": {"dropout": 1.5}})
    with pytest.raises(ConfigError, match=r"parameters\.experiment\.train\.optimizer"):
        parse_experiment({"train": {"optimizer": "SGD"}})


def test_cross_field_checks() -> None:
    with pytest.raises(ValueError, match="divisible by n_heads"):
        ModelConfig(d_model=18, n_heads=4)
    with pytest.raises(ValueError, match="2\\*rope_dims"):
        ModelConfig(d_model=16, n_heads=2, rope_dims=3)
    with pytest.raises(ValueError, match="n_causal_genes=5 exceeds n_genes=4"):
        SyntheticDataConfig(n_genes=4, n_causal_genes=5)


def test_configs_are_frozen() -> None:
    config = TrainConfig()
    with pytest.raises(ValueError):
        config.epochs = 3  # type: ignore[misc]
    assert config.model_copy(update={"epochs": 3}).epochs == 3


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "zenml_config.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_read_run_config(tmp_path: Path) -> None:
    document = {
        "enable_cache": False,
        "parameters": {"experiment": {"train": {"epochs": 3}}},
        "extra": {"mlflow": {"tracking_uri": "http://mlflow:5000"}},
        "settings": {"docker": {"parent_image": "registry/x:1"}},
    }
    run = read_run_config(_write(tmp_path, document))
    config = run.require_experiment()
    assert config.train.epochs == 3 and config.model == ModelConfig()
    assert run.mlflow_tracking_uri == "http://mlflow:5000" and run.parent_image == "registry/x:1"
    bare = read_run_config(_write(tmp_path, {"enable_cache": True}))
    assert bare.experiment is None and bare.mlflow_tracking_uri is None and bare.parent_image is None


def test_read_run_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_run_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"missing `parameters\.experiment`"):
        read_run_config(_write(tmp_path, {"parameters": {"other": 1}})).require_experiment()
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_run_config(_write(tmp_path, [1, 2]))
    with pytest.raises(ConfigError, match=r"unknown top-level key\(s\) \['paramaters'\]"):
        read_run_config(_write(tmp_path, {"paramaters": {}}))
    with pytest.raises(ConfigError, match="`steps` must be a mapping"):
        read_run_config(_write(tmp_path, {"steps": [1, 2]}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_run_config(bad)
    with pytest.raises(ConfigError, match=r"parameters\.experiment\.model\.colour: unknown key"):
        read_run_config(_write(tmp_path, {"parameters": {"experiment": {"model": {"colour": 1}}}}))


@pytest.mark.parametrize("name", ["zenml_config.yaml", "configs/seed.yaml", "tests/data/tiny_config.yaml"])
def test_repository_run_configurations_are_valid(name: str) -> None:
    run = read_run_config(Path(__file__).resolve().parents[2] / name)
    experiment = run.require_experiment()
    assert isinstance(experiment, ExperimentConfig)
    run.check_step_names(step_names(experiment))


def test_step_and_top_level_keys_are_those_zenml_reads() -> None:
    """The keys the run configuration reader allows are ZenML's own (its models ignore unknown step keys)."""
    from zenml.config.pipeline_run_configuration import PipelineRunConfiguration
    from zenml.config.step_configurations import StepConfigurationUpdate

    assert set(StepConfigurationUpdate.model_fields) == ALLOWED_STEP_KEYS
    assert ALLOWED_TOP_LEVEL - {"extra"} <= set(PipelineRunConfiguration.model_fields)


def test_step_names_and_keys_are_checked(tmp_path: Path) -> None:
    document = {"parameters": {"experiment": {"evaluation": {"repro_seeds": [3], "subsets": ["lung"]}}}}
    document["steps"] = {"trian": {"settings": {}}, "repro_seed_3": {"enable_cache": False}}
    run = read_run_config(_write(tmp_path, document))
    experiment = run.require_experiment()
    assert step_names(experiment)[:5] == [
        "load_data",
        "train",
        "repro_seed_3",
        "repro_seed_42",
        "subset_lung",
    ]
    with pytest.raises(ConfigError, match=r"`steps` names \['trian'\].*'logo_lung'"):
        run.check_step_names(step_names(experiment))
    document["steps"] = {"train": {"setings": {}}}
    with pytest.raises(ConfigError, match=r"`steps.train` has unknown key\(s\) \['setings'\]"):
        read_run_config(_write(tmp_path, document))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mlflow": {"tracking_url": "x"}}, r"`extra.mlflow` has unknown key\(s\) \['tracking_url'\]"),
        ({"mlflow": ["x"]}, "`extra.mlflow` must be a mapping"),
        ({"mlflow": {"tracking_uri": 1}}, "must be text"),
    ],
)
def test_extra_mlflow_is_checked(tmp_path: Path, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_run_config(_write(tmp_path, {"extra": extra}))


@pytest.mark.parametrize("experiment", [None, {}])
def test_an_empty_experiment_block_is_refused(tmp_path: Path, experiment: dict[str, Any] | None) -> None:
    with pytest.raises(ConfigError, match=r"`parameters.experiment` is empty"):
        read_run_config(_write(tmp_path, {"parameters": {"experiment": experiment}}))


@pytest.mark.parametrize(
    ("block", "says"),
    [
        (
            {"processes": 0},
            "`settings.orchestrator.local_parallel.processes` is 0: give how many steps run at once",
        ),
        ({"processes": "two"}, "`settings.orchestrator.local_parallel.processes` is 'two'"),
        ({"processes": True}, "`settings.orchestrator.local_parallel.processes` is True"),
        ({"procesess": 2}, "`settings.orchestrator.local_parallel` takes one key, `processes`"),
        (2, "`settings.orchestrator.local_parallel` takes one key, `processes`"),
    ],
)
def test_steps_at_once_must_be_a_whole_number_from_one(tmp_path: Path, block: object, says: str) -> None:
    document = {"settings": {"orchestrator.local_parallel": block}}
    with pytest.raises(ConfigError) as refused:
        read_run_config(_write(tmp_path, document))
    (line,) = str(refused.value).splitlines()
    assert says in line
    document["settings"]["orchestrator.local_parallel"] = {"processes": 3}
    assert read_run_config(_write(tmp_path, document)).document["settings"] == document["settings"]


def test_devices_above_a_training_pods_gpus_is_refused(tmp_path: Path) -> None:
    """One rank per GPU: `train.devices: 2` with a training step's pod asking for one GPU is one line naming
    the step's key and the fix; a matching count (and the default 1) is accepted."""
    pods = {"settings": {"resources": {"gpu_count": 1}}}
    document = {"parameters": {"experiment": {"train": {"devices": 2}}}, "steps": {"train": pods}}
    with pytest.raises(ConfigError) as refused:
        read_run_config(_write(tmp_path, document))
    (line,) = str(refused.value).splitlines()
    assert "`steps.train.settings.resources.gpu_count` is 1 but train.devices is 2" in line
    assert "set gpu_count: 2" in line
    pods["settings"]["resources"]["gpu_count"] = 2
    assert read_run_config(_write(tmp_path, document)).require_experiment().train.devices == 2
    with pytest.raises(ConfigError, match=r"train.devices=4 exceeds the rows a rank gets"):
        read_run_config(
            _write(tmp_path, {"parameters": {"experiment": {"train": {"devices": 4, "batch_size": 3}}}})
        )
