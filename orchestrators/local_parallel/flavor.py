"""Flavor, config and settings of the `local_parallel` orchestrator: ZenML's local orchestrator, with steps whose
inputs are ready run side by side in worker processes.

`processes` (settings key `orchestrator.local_parallel`, at pipeline level or on the component) is how many
steps run at once. 1, the default, is ZenML's local orchestrator as it is: every step in the run's own process,
one after the other.

Register with (from the repository root, so that `orchestrators` is importable):

    zenml orchestrator flavor register orchestrators.local_parallel.flavor.LocalParallelOrchestratorFlavor
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field
from zenml.config.base_settings import BaseSettings
from zenml.orchestrators.local.local_orchestrator import LocalOrchestratorConfig, LocalOrchestratorFlavor

if TYPE_CHECKING:
    from orchestrators.local_parallel.orchestrator import LocalParallelOrchestrator

LOCAL_PARALLEL_ORCHESTRATOR_FLAVOR = "local_parallel"
#: Settings key of this flavor in a run configuration (`settings.<key>` or `steps.<id>.settings.<key>`).
LOCAL_PARALLEL_SETTINGS_KEY = f"orchestrator.{LOCAL_PARALLEL_ORCHESTRATOR_FLAVOR}"


class LocalParallelOrchestratorSettings(BaseSettings):
    """Per-pipeline settings (key `orchestrator.local_parallel`); the component's value is the default."""

    processes: int = Field(
        1,
        ge=1,
        description="How many steps run at once, each in a worker process of its own, started as soon as its "
        "upstream steps have finished. 1: every step runs in the run's own process, one after the other, as on "
        "ZenML's local orchestrator.",
    )


class LocalParallelOrchestratorConfig(LocalOrchestratorConfig, LocalParallelOrchestratorSettings):
    """Component configuration: the local orchestrator's, plus the default `processes`."""


class LocalParallelOrchestratorFlavor(LocalOrchestratorFlavor):
    """The `local_parallel` flavor."""

    @property
    def name(self) -> str:
        """Flavor name."""
        return LOCAL_PARALLEL_ORCHESTRATOR_FLAVOR

    @property
    def config_class(self) -> type[LocalParallelOrchestratorConfig]:
        """Config class."""
        return LocalParallelOrchestratorConfig

    @property
    def implementation_class(self) -> type[LocalParallelOrchestrator]:
        """Implementation class."""
        from orchestrators.local_parallel.orchestrator import LocalParallelOrchestrator

        return LocalParallelOrchestrator
