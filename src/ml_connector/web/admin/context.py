"""What every admin view shares: dependencies, templates, the CSRF protector, flashes.

Views are plain functions of `(admin, request)`; `guard` wraps each one so that no
route can forget the login or CSRF check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ml_connector.settings import Settings
from ml_connector.sync.runtime import Runtime
from ml_connector.web.deps import AppDeps
from ml_connector.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    USER_KEY,
    AdminCredentials,
    CsrfProtector,
    LoginRateLimiter,
)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_FLASH_KEY = "flash"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

View = Callable[["Admin", Request], Awaitable[Response]]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Admin:
    deps: AppDeps
    templates: Jinja2Templates
    csrf: CsrfProtector
    credentials: AdminCredentials | None
    login_limiter: LoginRateLimiter

    @classmethod
    def build(cls, deps: AppDeps) -> Admin:
        settings = deps.settings
        password = settings.admin_password
        credentials = (
            AdminCredentials(settings.admin_username, password)
            if password is not None and password.get_secret_value()
            else None
        )
        return cls(
            deps=deps,
            templates=Jinja2Templates(env=_environment()),
            csrf=CsrfProtector(settings.resolved_session_secret()),
            credentials=credentials,
            login_limiter=LoginRateLimiter(deps.runtime.clock),
        )

    @property
    def runtime(self) -> Runtime:
        return self.deps.runtime

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    @property
    def engine(self) -> AsyncEngine:
        return self.deps.runtime.engine

    def now(self) -> datetime:
        return self.deps.runtime.clock()

    def render(
        self, request: Request, template: str, *, status: int = 200, **context: Any
    ) -> Response:
        flashes = request.session.pop(_FLASH_KEY, []) if "session" in request.scope else []
        return self.templates.TemplateResponse(
            request,
            template,
            {
                "user": current_user(request),
                "csrf_token": self.csrf.token_for(request.session),
                "csrf_field": CSRF_FIELD,
                "flashes": flashes,
                **context,
            },
            status_code=status,
        )


def current_user(request: Request) -> str | None:
    if "session" not in request.scope:
        return None
    user = request.session.get(USER_KEY)
    return user if isinstance(user, str) else None


def flash(request: Request, message: str, *, kind: str = "info") -> None:
    """A message shown once on the next page (after POST-redirect-GET)."""
    messages = list(request.session.get(_FLASH_KEY, []))
    messages.append({"kind": kind, "text": message})
    request.session[_FLASH_KEY] = messages[-10:]


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def guard(
    admin: Admin, view: View, *, public: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint for `view`: refuses when no admin password is set, checks CSRF on
    every unsafe method, and (unless `public`) requires a logged-in admin."""

    async def endpoint(request: Request) -> Response:
        if admin.credentials is None:
            return HTMLResponse(
                "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                "<title>Admin UI disabled</title></head><body><main><h1>Admin UI disabled</h1>"
                "<p>No admin password is configured, so the admin UI refuses to run open. "
                "Set <code>MLC_ADMIN_PASSWORD</code> (and optionally "
                "<code>MLC_ADMIN_USERNAME</code>) and restart.</p></main></body></html>",
                status_code=503,
            )
        if request.method not in SAFE_METHODS and not await _csrf_ok(admin, request):
            return admin.render(
                request,
                "admin/error.html",
                status=403,
                title="Form expired",
                message="This form could not be accepted (missing or invalid security token). "
                "Go back, reload the page and try again.",
            )
        if not public and current_user(request) is None:
            if request.method in SAFE_METHODS:
                target = request.url.path
                if request.url.query:
                    target += f"?{request.url.query}"
                return redirect(f"/login?next={_quote(target)}")
            return admin.render(
                request,
                "admin/error.html",
                status=401,
                title="Signed out",
                message="Your session has ended. Sign in again and repeat the action.",
            )
        return await view(admin, request)

    endpoint.__name__ = getattr(view, "__name__", "admin_view")
    return endpoint


async def _csrf_ok(admin: Admin, request: Request) -> bool:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    return admin.csrf.is_valid(request.session, token)


def _quote(target: str) -> str:
    return quote(target, safe="/")


async def form_fields(request: Request) -> dict[str, str]:
    """The submitted form's text fields (last value wins), without the CSRF token."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}


async def form_list(request: Request, name: str) -> list[str]:
    form = await request.form()
    return [v for v in form.getlist(name) if isinstance(v, str)]


__all__ = [
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "Admin",
    "View",
    "current_user",
    "flash",
    "form_fields",
    "form_list",
    "guard",
    "redirect",
]
