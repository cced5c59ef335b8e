"""Reading and saving a connection's flow configuration from the editor pages.

Every save is a new version (`store.mappings.save`) whose text is the canonical dump of
the validated config, so the UI, the CLI export and the sync all read the same thing.
Editor pages change one section with `model_copy(update=...)` and re-validate the whole
document, so a form can never save something the loader would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ml_connector.core.flow_config import (
    ConfigErrors,
    FlowConfig,
    dump_flow_config,
    load_flow_config,
)
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read
from ml_connector.store.mappings import MappingVersion
from ml_connector.sync.impact import apply_mapping_change
from ml_connector.sync.runtime import Runtime


@dataclass(frozen=True)
class CurrentFlow:
    """The newest stored version, parsed (or why it does not parse)."""

    version: MappingVersion | None
    config: FlowConfig | None
    errors: ConfigErrors | None


class InvalidConfigError(ValueError):
    """A form produced a config the loader refuses; the message lists why."""


async def current_flow(runtime: Runtime, connection_id: int) -> CurrentFlow:
    async with read(runtime.engine) as db:
        version = await mappings_store.current(db, connection_id)
    if version is None:
        return CurrentFlow(None, None, None)
    loaded = load_flow_config(version.text)
    if isinstance(loaded, ConfigErrors):
        return CurrentFlow(version, None, loaded)
    return CurrentFlow(version, loaded, None)


def revalidate(config: FlowConfig, **sections: Any) -> FlowConfig:
    """`config` with `sections` replaced, validated as a whole document."""
    data = config.model_dump(mode="json")
    for name, value in sections.items():
        data[name] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    try:
        return FlowConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidConfigError(_describe(exc)) from None


def parse_text(text: str) -> FlowConfig:
    loaded = load_flow_config(text, source="editor")
    if isinstance(loaded, ConfigErrors):
        raise InvalidConfigError(str(loaded))
    return loaded


async def save_flow(
    runtime: Runtime,
    connection_id: int,
    config: FlowConfig,
    *,
    author: str,
    comment: str,
    expected_version: int | None = None,
) -> MappingVersion:
    """Save a new version and re-push exactly the synced objects it changes.

    Every editor saves through here, so no mapping edit — GL, cost centers, terms,
    vendor links, the whole file — can change what Ramp should hold without the
    affected objects being re-synced (and the change recorded in their audit trails).
    """
    applied = await apply_mapping_change(
        runtime,
        connection_id,
        dump_flow_config(config),
        author=author,
        comment=comment,
        expected_version=expected_version,
    )
    return applied.version


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


__all__ = [
    "CurrentFlow",
    "InvalidConfigError",
    "current_flow",
    "parse_text",
    "revalidate",
    "save_flow",
]
