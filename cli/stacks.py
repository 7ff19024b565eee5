"""`upsert_stack`: the one place that registers ZenML stacks, idempotently.

Used by `causal-lattice compile` (the compile-only stack), `python -m tools local-stack` (the embedded MLflow
stack) and `k8s/register_stack.sh` (the production stack, through `python -m tools production-stack`). What
exists is updated, never duplicated: a component's configuration is replaced, not merged, so that keys of an
earlier set-up (credentials of another server) do not linger; a secret loses the keys it no longer has.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@contextmanager
def store_lock() -> Iterator[None]:
    """Hold an exclusive lock on ZenML's config folder, with its store created or migrated inside.

    Two commands started at once in one checkout would otherwise both create the fresh local store, and the
    second one fails on the store settings' UNIQUE constraint; or both would register the same stack component.
    Once the store exists, concurrent runs share it; only creating and registering is serialised."""
    from zenml.client import Client
    from zenml.utils.io_utils import get_global_config_directory

    folder = Path(get_global_config_directory())
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "causal-lattice.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        Client().zen_store  # noqa: B018 - creates or migrates the store under the lock
        yield


class StackSetupError(RuntimeError):
    """A stack cannot be registered as asked; the message names the component and the fix."""


@dataclass(frozen=True)
class Component:
    """One stack component. With a `flavor` it is registered or updated with `configuration` (and
    `environment`); without one, the component of that name must exist and is used as it is."""

    type: str  # a StackComponentType value: "orchestrator", "artifact_store", "experiment_tracker", ...
    name: str
    flavor: str | None = None
    configuration: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, str] | None = None
    flavor_source: str | None = None  # a custom flavor's import path, registered first when missing
    connector: str | None = None  # a registered service connector the component authenticates through


def _ensure_flavor(client: Any, component: Component, component_type: Any) -> None:
    try:
        client.get_flavor_by_name_and_type(str(component.flavor), component_type)
    except KeyError:
        client.create_flavor(source=component.flavor_source, component_type=component_type)


def _upsert_secret(client: Any, name: str, values: Mapping[str, str]) -> None:
    from zenml.exceptions import EntityExistsError

    try:
        client.create_secret(name, dict(values))
    except EntityExistsError:
        current = client.get_secret(name, allow_partial_name_match=False, allow_partial_id_match=False)
        stale = [key for key in current.secret_values if key not in values]
        client.update_secret(name, add_or_update_values=dict(values), remove_values=stale or None)


def _upsert_component(client: Any, component: Component) -> None:
    from zenml.enums import StackComponentType

    component_type = StackComponentType(component.type)
    try:
        existing = client.get_stack_component(component_type, component.name, allow_name_prefix_match=False)
    except KeyError:
        existing = None
    if component.flavor is None:
        if existing is None:
            raise StackSetupError(
                f"no {component.type} named {component.name!r} is registered: register it, or name one "
                "that exists"
            )
        return
    if component.flavor_source:
        _ensure_flavor(client, component, component_type)
    environment = dict(component.environment) if component.environment is not None else None
    if existing is None:
        client.create_stack_component(
            component.name,
            component.flavor,
            component_type,
            dict(component.configuration),
            environment=environment,
        )
    elif existing.flavor_name != component.flavor:
        raise StackSetupError(
            f"a {component.type} named {component.name!r} exists with flavor {existing.flavor_name!r}, not "
            f"{component.flavor!r}: delete or rename it"
        )
    else:
        stale = {key: None for key in existing.configuration if key not in component.configuration}
        client.update_stack_component(
            component.name,
            component_type,
            configuration={**stale, **component.configuration},
            environment=environment,
        )
    if component.connector:
        connector = client.get_service_connector(component.connector, allow_name_prefix_match=False)
        client.update_stack_component(component.name, component_type, connector_id=connector.id)


def upsert_stack(
    name: str,
    components: Sequence[Component],
    *,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    activate: bool = True,
) -> None:
    """Register or update the secrets, the components and the stack `name` made of them; activate it.

    Raises:
        StackSetupError: If a component exists with another flavor, or a referenced one does not exist.
    """
    from zenml.client import Client
    from zenml.enums import StackComponentType

    with store_lock():
        client = Client()
        for secret_name, values in (secrets or {}).items():
            _upsert_secret(client, secret_name, values)
        for component in components:
            _upsert_component(client, component)
        members = {StackComponentType(c.type): c.name for c in components}
        try:
            client.get_stack(name, allow_name_prefix_match=False)
        except KeyError:
            client.create_stack(name, members)
        else:
            client.update_stack(name, component_updates={kind: [member] for kind, member in members.items()})
        if activate:
            client.activate_stack(name)
