"""Persistence: SQLAlchemy Core tables, engines, migrations, encrypted credentials.

With `queue`, the only place that knows SQL. Record-level functions live in modules
named for what they store (`connections`, `credentials`, `links`, `mappings`, `inbox`,
`audit`) and take the caller's `AsyncConnection`; the objects below own their
transactions.
"""

from ml_connector.store.crypto import Cipher, DecryptionError, generate_key
from ml_connector.store.engine import make_engine, read
from ml_connector.store.ratebudget import DEFAULT_BUDGETS, Budget, DbRateLimiter
from ml_connector.store.rotation import RotationReport, rotate_keys
from ml_connector.store.tokens import DbTokenStore, token_key

__all__ = [
    "DEFAULT_BUDGETS",
    "Budget",
    "Cipher",
    "DbRateLimiter",
    "DbTokenStore",
    "DecryptionError",
    "RotationReport",
    "generate_key",
    "make_engine",
    "read",
    "rotate_keys",
    "token_key",
]
