"""Sign in and sign out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.web.admin.context import Admin, current_user, flash, form_fields, guard, redirect
from ml_connector.web.security import USER_KEY, safe_next


async def login_page(admin: Admin, request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    if current_user(request) is not None:
        return redirect(target)
    return admin.render(request, "admin/login.html", next=target, error=None, username="")


async def login(admin: Admin, request: Request) -> Response:
    assert admin.credentials is not None, "guard refuses to serve without credentials"
    fields = await form_fields(request)
    target = safe_next(fields.get("next"))
    username = fields.get("username", "")
    client = request.client.host if request.client else "unknown"
    wait = admin.login_limiter.retry_after(client)
    if wait is not None:
        response = admin.render(
            request,
            "admin/login.html",
            status=429,
            next=target,
            username=username,
            error=f"Too many failed sign-ins. Try again in {wait} seconds.",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if not admin.credentials.verify(username, fields.get("password", "")):
        admin.login_limiter.failed(client)
        return admin.render(
            request,
            "admin/login.html",
            status=401,
            next=target,
            username=username,
            error="Wrong username or password.",
        )
    admin.login_limiter.succeeded(client)
    # A fresh session on sign-in: nothing planted before login survives it.
    request.session.clear()
    request.session[USER_KEY] = admin.credentials.username
    return redirect(target)


async def logout(admin: Admin, request: Request) -> Response:
    request.session.clear()
    flash(request, "You are signed out.")
    return redirect("/login")


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/login", guard(admin, login_page, public=True), methods=["GET"]),
        Route("/login", guard(admin, login, public=True), methods=["POST"]),
        Route("/logout", guard(admin, logout), methods=["POST"]),
    ]


__all__ = ["routes"]
