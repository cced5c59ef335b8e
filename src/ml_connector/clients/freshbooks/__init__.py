"""The FreshBooks API client: OAuth, identity, accounting resources, webhook callbacks."""

from ml_connector.clients.freshbooks.auth import DEFAULT_REFRESH_MARGIN, FreshBooksAuth
from ml_connector.clients.freshbooks.callbacks import Callbacks
from ml_connector.clients.freshbooks.client import (
    API_BASE_URL,
    AUTH_BASE_URL,
    FreshBooksClient,
)
from ml_connector.clients.freshbooks.errors import FeatureUnavailableError
from ml_connector.clients.freshbooks.identity import BusinessRef, businesses_of
from ml_connector.clients.freshbooks.models import (
    Bill,
    BillLine,
    BillPayment,
    BillVendor,
    Business,
    BusinessMembership,
    Callback,
    Category,
    Expense,
    Identity,
    LedgerAccount,
    Money,
    Role,
    Tax,
)
from ml_connector.clients.freshbooks.oauth import (
    CONNECTOR_SCOPES,
    FreshBooksOAuth,
    authorization_url,
    code_challenge_s256,
    new_code_verifier,
)
from ml_connector.clients.freshbooks.pagination import MAX_PER_PAGE, Page
from ml_connector.clients.freshbooks.query import Search
from ml_connector.clients.freshbooks.resources import (
    AccountingResource,
    CategoryResource,
    LedgerAccounts,
    TaxResource,
    VisStateResource,
)

__all__ = [
    "API_BASE_URL",
    "AUTH_BASE_URL",
    "CONNECTOR_SCOPES",
    "DEFAULT_REFRESH_MARGIN",
    "MAX_PER_PAGE",
    "AccountingResource",
    "Bill",
    "BillLine",
    "BillPayment",
    "BillVendor",
    "Business",
    "BusinessMembership",
    "BusinessRef",
    "Callback",
    "Callbacks",
    "Category",
    "CategoryResource",
    "Expense",
    "FeatureUnavailableError",
    "FreshBooksAuth",
    "FreshBooksClient",
    "FreshBooksOAuth",
    "Identity",
    "LedgerAccount",
    "LedgerAccounts",
    "Money",
    "Page",
    "Role",
    "Search",
    "Tax",
    "TaxResource",
    "VisStateResource",
    "authorization_url",
    "businesses_of",
    "code_challenge_s256",
    "new_code_verifier",
]
