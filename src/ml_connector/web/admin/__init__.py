"""The admin web UI: server-rendered pages for the accounting team.

`mount(deps)` returns the routes (login, connections and the FreshBooks connect flow,
mappings, cost centers, vendors and review, terms, dashboard, audit, needs attention,
`/static`) and the middleware they need (signed session cookie, security headers).
Every page but `/login` and `/static` requires the admin to be signed in, and every
unsafe request must carry a valid CSRF token; both are enforced by `context.guard`,
which wraps every view. Without `MLC_ADMIN_PASSWORD` the pages answer 503 with the fix
rather than run open.
"""

from __future__ import annotations

import structlog
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from ml_connector.web.admin import (
    attention,
    audit_views,
    auth_views,
    connections,
    cost_centers,
    dashboard,
    mappings,
    oauth,
    ramp,
    reconcile,
    terms,
    vendors,
)
from ml_connector.web.admin.context import STATIC_DIR, Admin
from ml_connector.web.deps import AppDeps
from ml_connector.web.security import SESSION_COOKIE, SESSION_MAX_AGE, SecurityHeadersMiddleware

log = structlog.get_logger(__name__)


def mount(deps: AppDeps) -> tuple[list[BaseRoute], list[Middleware]]:
    """The admin UI's routes and middleware, for `create_app(extra_routes=, extra_middleware=)`."""
    admin = Admin.build(deps)
    if admin.credentials is None:
        log.warning(
            "admin.disabled",
            reason="MLC_ADMIN_PASSWORD is not set; the admin UI answers 503 until it is",
        )
    routes: list[BaseRoute] = [
        *auth_views.routes(admin),
        *dashboard.routes(admin),
        *connections.routes(admin),
        *oauth.routes(admin),
        *ramp.routes(admin),
        *mappings.routes(admin),
        *cost_centers.routes(admin),
        *vendors.routes(admin),
        *terms.routes(admin),
        *audit_views.routes(admin),
        *attention.routes(admin),
        *reconcile.routes(admin),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(
            SessionMiddleware,
            secret_key=deps.settings.resolved_session_secret(),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=deps.settings.public_url.startswith("https://"),
        ),
    ]
    return routes, middleware


__all__ = ["mount"]
