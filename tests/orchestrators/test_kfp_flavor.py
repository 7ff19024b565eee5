"""Flavor registration, settings validation and CLI errors (subprocesses, isolated ZenML stores)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.orchestrators.kfp_testlib import CAUSAL_LATTICE, REPO_ROOT, run_command, zenml_env

SETTINGS_CHECK = """
import json
from zenml.integrations.kubeflow.flavors.kubeflow_orchestrator_flavor import KubeflowOrchestratorSettings
from orchestrators.kubeflow_gpu.flavor import KubeflowGPUOrchestratorConfig, KubeflowGPUOrchestratorSettings

pod = {"pod_settings": {"node_selectors": {"accelerator": "nvidia-h200"},
                        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}
ours = KubeflowGPUOrchestratorSettings.model_validate(pod).pod_settings
stock = KubeflowOrchestratorSettings.model_validate(pod).pod_settings
deprecated = {}
for key in ("node_selectors", "node_affinity"):
    try:
        KubeflowGPUOrchestratorSettings.model_validate({key: {"zone": "a"}, **pod})
        deprecated[key] = "accepted"
    except ValueError as error:
        deprecated[key] = str(error)
config = KubeflowGPUOrchestratorConfig(compile_only=True, **pod)
print(json.dumps({
    "ours": ours.model_dump(include={"node_selectors", "tolerations"}),
    "stock": stock.model_dump(include={"node_selectors", "tolerations"}),
    "deprecated": deprecated,
    "compile_only_remote": config.is_remote,
    "compile_only_client_cache": config.supports_client_side_caching,
    "default_remote": KubeflowGPUOrchestratorConfig().is_remote,
}))
"""


def test_pod_settings_survive_validation(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SETTINGS_CHECK],
        cwd=REPO_ROOT,
        env=zenml_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = {
        "node_selectors": {"accelerator": "nvidia-h200"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
    }
    assert result["ours"] == expected
    # docs/design.md §6 (a): the defect we fix.
    assert result["stock"] == {"node_selectors": {}, "tolerations": []}
    # The deprecated top-level keys are refused with the place they belong, never migrated.
    assert "`node_selectors` -> `pod_settings.node_selectors`" in result["deprecated"]["node_selectors"]
    assert "`node_affinity` -> `pod_settings.affinity.nodeAffinity" in result["deprecated"]["node_affinity"]
    assert result["compile_only_remote"] is False and result["compile_only_client_cache"] is False
    assert result["default_remote"] is True


def test_flavor_registers_from_repo_root(tmp_path: Path) -> None:
    env = zenml_env(tmp_path)
    zenml = str(Path(sys.executable).with_name("zenml"))
    source = "orchestrators.kubeflow_gpu.flavor.KubeflowGPUOrchestratorFlavor"
    for command in (
        ["orchestrator", "flavor", "register", source],
        ["orchestrator", "register", "kfp", "--flavor", "kubeflow_gpu", "--compile_only=True"],
    ):
        result = subprocess.run(
            [zenml, *command],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_compile_cli_reports_bad_paths(tmp_path: Path) -> None:
    env = zenml_env(tmp_path)

    def compile_(*args: str) -> subprocess.CompletedProcess:
        return run_command([CAUSAL_LATTICE, "compile", *args], env, 120)

    missing = compile_("--config", "nope.yaml", "--output", "x.yaml")
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr and "does not exist" in missing.stderr
    config = tmp_path / "c.yaml"
    config.write_text("steps: [1, 2]\n")
    bad = compile_("--config", str(config), "--output", "x.yaml")
    assert bad.returncode == 2 and "`steps` must be a mapping" in bad.stderr
    config.write_text("enable_cache: false\n")
    suffix = compile_("--config", str(config), "--output", "x.json")
    assert suffix.returncode == 2 and ".yaml" in suffix.stderr
    unknown = compile_(
        "--config", str(config), "--output", str(tmp_path / "x.yaml"), "--pipeline", "no_such:p"
    )
    assert unknown.returncode == 2 and "no_such" in unknown.stderr
    for result in (missing, bad, suffix, unknown):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
