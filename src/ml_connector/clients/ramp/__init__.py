"""The Ramp Developer API client: typed, rate-limited, token-renewing, safely retrying."""

from ml_connector.clients.ramp.auth import ClientCredentialsAuth
from ml_connector.clients.ramp.client import (
    API_PATH,
    DEFAULT_RENEW_MARGIN,
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    RampClient,
)
from ml_connector.clients.ramp.errors import (
    PaginationError,
    RequestNotSentError,
    UnexpectedResponseError,
)
from ml_connector.clients.ramp.requester import RetryPolicy
from ml_connector.clients.ramp.scopes import REQUIRED_SCOPES, MissingScope
from ml_connector.clients.ramp.webhooks import VERIFICATION_EVENT, parse_event

__all__ = [
    "API_PATH",
    "DEFAULT_RENEW_MARGIN",
    "PRODUCTION_BASE_URL",
    "REQUIRED_SCOPES",
    "SANDBOX_BASE_URL",
    "VERIFICATION_EVENT",
    "ClientCredentialsAuth",
    "MissingScope",
    "PaginationError",
    "RampClient",
    "RequestNotSentError",
    "RetryPolicy",
    "UnexpectedResponseError",
    "parse_event",
]
