"""The published JSON Schema of the flow configuration (for editors and other tools).

Pure. `docs/flow-config.schema.json` is `render_json_schema()`; a test keeps it current.
"""

from __future__ import annotations

import json
from typing import Any

from ml_connector.core.flow_config.models import FORMAT_VERSION, FlowConfig

__all__ = ["SCHEMA_ID", "flow_config_json_schema", "render_json_schema"]

SCHEMA_ID = f"urn:ml-connector:flow-config:v{FORMAT_VERSION}"


def flow_config_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of what the loader accepts."""
    schema = FlowConfig.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "description": "A connection's mappings and policies for the FreshBooks → Ramp sync. "
        "Written in TOML; this schema describes the parsed document.",
    }


def render_json_schema() -> str:
    """The schema as stable, pretty JSON text with a trailing newline."""
    return (
        json.dumps(flow_config_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
