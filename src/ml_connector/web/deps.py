"""What the web app is built from, passed explicitly to `create_app` (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ml_connector.settings import Settings
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.webhook_secrets import WebhookKeyCache
from ml_connector.web.delivery_writer import DeliveryWriter

DEFAULT_MAX_WEBHOOK_BYTES = 64 * 1024
"""Both vendors send thin payloads (ids only); anything bigger is refused with 413."""


@dataclass(frozen=True)
class AppDeps:
    runtime: Runtime
    max_webhook_bytes: int = DEFAULT_MAX_WEBHOOK_BYTES
    webhook_keys: WebhookKeyCache = field(default_factory=WebhookKeyCache)
    """This app's short-lived copy of each connection's webhook keys (one per process)."""
    delivery_writer: DeliveryWriter = field(default_factory=DeliveryWriter)
    """Stores this app's verified deliveries, those that arrive together in one commit."""

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


__all__ = ["DEFAULT_MAX_WEBHOOK_BYTES", "AppDeps"]
