"""Flow configuration: a versioned TOML file of a connection's mappings and policies.

Pure; no I/O (callers read and write the files). See ``docs/flow-config.md``.

    load_flow_config(text) -> FlowConfig | ConfigErrors     line-numbered errors
    dump_flow_config(config) -> str                         export; load(dump(c)) == c
    render_json_schema() -> str                             the published JSON Schema
"""

from __future__ import annotations

from ml_connector.core.flow_config.dumper import dump_flow_config
from ml_connector.core.flow_config.loader import (
    ConfigError,
    ConfigErrors,
    load_flow_config,
    load_flow_config_or_raise,
)
from ml_connector.core.flow_config.models import (
    FORMAT_VERSION,
    BillsSection,
    ConnectionSection,
    CostCenterRuleEntry,
    CostCentersSection,
    CostCenterWhen,
    ExpensesSection,
    FlowConfig,
    GLMappingEntry,
    GLSection,
    StaffCardHolder,
    TaxAccount,
    VendorLink,
    VendorsSection,
    VendorTerms,
)
from ml_connector.core.flow_config.schema import (
    SCHEMA_ID,
    flow_config_json_schema,
    render_json_schema,
)

__all__ = [
    "FORMAT_VERSION",
    "SCHEMA_ID",
    "BillsSection",
    "ConfigError",
    "ConfigErrors",
    "ConnectionSection",
    "CostCenterRuleEntry",
    "CostCenterWhen",
    "CostCentersSection",
    "ExpensesSection",
    "FlowConfig",
    "GLMappingEntry",
    "GLSection",
    "StaffCardHolder",
    "TaxAccount",
    "VendorLink",
    "VendorTerms",
    "VendorsSection",
    "dump_flow_config",
    "flow_config_json_schema",
    "load_flow_config",
    "load_flow_config_or_raise",
    "render_json_schema",
]
