"""Write a flow configuration back to TOML (export), so that load(dump(c)) == c.

Pure. Every setting is written, defaults included, so an exported file documents the
behaviour it produces; comments in the original file are not preserved.
"""

from __future__ import annotations

import tomli_w

from ml_connector.core.flow_config.models import FORMAT_VERSION, FlowConfig

__all__ = ["dump_flow_config"]

_HEADER = (
    "# ml-connector flow configuration (format version {v}).\n"
    "# Reference: docs/flow-config.md; JSON Schema: docs/flow-config.schema.json\n\n"
)


def dump_flow_config(config: FlowConfig) -> str:
    """TOML text of `config`; `version` first, then the sections in their documented order."""
    data = config.model_dump(mode="json", exclude_none=True)
    return _HEADER.format(v=FORMAT_VERSION) + tomli_w.dumps(data, multiline_strings=False)
