"""Category → GL mapping editor with suggestions and coverage, and the whole-file editor.

The page shows every FreshBooks category with what it codes to today and why
(`explicit`, `parent_fallback`, `suspense`) or why it cannot be coded, the ranked
suggestions from `core.gl.suggest_gl_accounts`, and the coverage report. Suggestions
are only shown; a mapping changes only when the admin saves the form. Saving keeps
each existing entry's form (by name or by id) when its account is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.core.flow_config import ConnectionSection, FlowConfig, GLMappingEntry, GLSection
from ml_connector.core.gl import (
    CoverageReport,
    GLDecision,
    GLSuggestion,
    build_gl_map,
    coverage_report,
    find_gl_account,
    render_coverage_report,
    resolve_gl,
    suggest_gl_accounts,
)
from ml_connector.core.model import Category, GLAccount
from ml_connector.core.problems import Problem
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read
from ml_connector.web.admin import impact, live
from ml_connector.web.admin.connections import load_connection, not_found
from ml_connector.web.admin.context import (
    Admin,
    current_user,
    flash,
    form_fields,
    guard,
    redirect,
)
from ml_connector.web.admin.flow import (
    InvalidConfigError,
    current_flow,
    parse_text,
    revalidate,
    save_flow,
)

FIELD_PREFIX = "gl__"
SUSPENSE_FIELD = "suspense_account"


@dataclass(frozen=True)
class CategoryRow:
    category: Category
    selected: str
    decision: GLDecision | None
    problem: Problem | None
    suggestions: tuple[GLSuggestion, ...]


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def _covered(entry: GLMappingEntry, category: Category) -> bool:
    if entry.category_id is not None:
        return entry.category_id == category.id
    return _key(entry.category or "") == _key(category.name)


def _rows(
    config: FlowConfig, categories: list[Category], accounts: list[GLAccount]
) -> tuple[list[CategoryRow], CoverageReport]:
    rules = [entry.rule() for entry in config.gl.mappings]
    gl = build_gl_map(rules, categories, accounts, config.gl.suspense_account)
    by_id = {c.id: c for c in categories}
    rows = []
    for category in sorted(categories, key=lambda c: (c.name.casefold(), c.id)):
        ref = gl.explicit.get(category.id)
        account = find_gl_account(ref, accounts) if ref is not None else None
        outcome = resolve_gl(category.id, gl)
        parent = by_id.get(category.parent_id) if category.parent_id else None
        rows.append(
            CategoryRow(
                category=category,
                selected=account.id if account is not None else (ref or ""),
                decision=outcome if isinstance(outcome, GLDecision) else None,
                problem=outcome if isinstance(outcome, Problem) else None,
                suggestions=suggest_gl_accounts(category, accounts, parent=parent),
            )
        )
    # Every active category counts as in use: usage counts would need a pass over every
    # bill and expense, which the sync's coverage check (not this page) can afford.
    usage = {c.id: 1 for c in categories if c.active}
    return rows, coverage_report(gl, usage)


async def page(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    flow = await current_flow(admin.runtime, connection.id)
    async with read(admin.engine) as db:
        history = await mappings_store.history(db, connection.id)
    rows: list[CategoryRow] = []
    report: CoverageReport | None = None
    categories = accounts = None
    if flow.config is not None:
        categories = await live.freshbooks_categories(admin.runtime, connection)
        accounts = await live.ramp_gl_accounts(admin.runtime, connection)
        if categories.value is not None and accounts.value is not None:
            rows, report = _rows(flow.config, categories.value, accounts.value)
    return admin.render(
        request,
        "admin/mappings.html",
        connection=connection,
        flow=flow,
        history=history[:20],
        rows=rows,
        report=report,
        report_text=render_coverage_report(report) if report is not None else "",
        accounts=sorted(
            (a for a in (accounts.value or []) if a.active) if accounts else [],
            key=lambda a: (a.code or "", a.name),
        ),
        fetch_errors=[f.error for f in (categories, accounts) if f is not None and f.error],
        field_prefix=FIELD_PREFIX,
    )


def merge_gl(
    current: GLSection,
    categories: list[Category],
    accounts: list[GLAccount],
    fields: dict[str, str],
) -> GLSection:
    """The GL section after the editor form: posted categories change, the rest stays.

    An entry whose account is unchanged keeps its form (by name or by id); a new entry
    names its category when the name is unique, else its id.

    Raises:
        InvalidConfigError: the form names an account that is unknown or inactive.
    """
    known = {a.id for a in accounts if a.active}
    names = [c.name for c in categories]
    entries = list(current.mappings)
    for category in categories:
        name = FIELD_PREFIX + category.id
        if name not in fields:
            continue
        wanted = fields[name]
        if wanted and wanted not in known:
            raise InvalidConfigError(f"unknown or inactive GL account for {category.name!r}")
        index = next((i for i, e in enumerate(entries) if _covered(e, category)), None)
        if index is None:
            if wanted:
                unique_name = sum(_key(n) == _key(category.name) for n in names) == 1
                entries.append(
                    GLMappingEntry(category=category.name, gl_account=wanted)
                    if unique_name
                    else GLMappingEntry(category_id=category.id, gl_account=wanted)
                )
            continue
        existing = find_gl_account(entries[index].gl_account, accounts)
        if not wanted:
            del entries[index]
        elif existing is None or existing.id != wanted:
            entries[index] = entries[index].model_copy(update={"gl_account": wanted})
    suspense = fields.get(SUSPENSE_FIELD) or None
    if suspense is not None:
        if suspense not in known:
            raise InvalidConfigError("unknown or inactive suspense account")
        previous = (
            find_gl_account(current.suspense_account, accounts)
            if current.suspense_account
            else None
        )
        if previous is not None and previous.id == suspense:
            suspense = current.suspense_account
    return GLSection(suspense_account=suspense, mappings=tuple(entries))


async def save_gl(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    back = f"/connections/{connection.id}/mappings"
    flow = await current_flow(admin.runtime, connection.id)
    if flow.config is None:
        flash(request, "There is no valid flow configuration to edit yet.", kind="error")
        return redirect(back)
    categories = await live.freshbooks_categories(admin.runtime, connection)
    accounts = await live.ramp_gl_accounts(admin.runtime, connection)
    if categories.value is None or accounts.value is None:
        flash(request, categories.error or accounts.error or "Lookup failed.", kind="error")
        return redirect(back)
    fields = await form_fields(request)
    try:
        gl = merge_gl(flow.config.gl, categories.value, accounts.value, fields)
        config = revalidate(flow.config, gl=gl)
    except InvalidConfigError as exc:
        flash(request, f"Not saved: {exc}", kind="error")
        return redirect(back)
    if config == flow.config:
        flash(request, "Nothing changed.")
        return redirect(back)
    version = await save_flow(
        admin.runtime,
        connection.id,
        config,
        author=current_user(request) or "admin",
        comment="GL mapping edited in the admin UI",
    )
    flash(request, f"GL mapping saved as version {version.version}.", kind="success")
    return redirect(back)


async def save_document(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    back = f"/connections/{connection.id}/mappings"
    fields = await form_fields(request)
    try:
        config = parse_text(fields.get("document", ""))
    except InvalidConfigError as exc:
        flash(request, f"Not saved:\n{exc}", kind="error")
        return redirect(back)
    version = await save_flow(
        admin.runtime,
        connection.id,
        config,
        author=current_user(request) or "admin",
        comment=(fields.get("comment") or "").strip()[:500] or "Edited as a file in the admin UI",
    )
    flash(request, f"Flow configuration saved as version {version.version}.", kind="success")
    return redirect(back)


async def start(admin: Admin, request: Request) -> Response:
    """Create a first configuration when setup was not run (defaults everywhere)."""
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    back = f"/connections/{connection.id}/mappings"
    if (await current_flow(admin.runtime, connection.id)).version is not None:
        flash(request, "This connection already has a flow configuration.", kind="error")
        return redirect(back)
    if connection.freshbooks_account_id is None or connection.ramp_entity_id is None:
        flash(
            request,
            "Connect FreshBooks and choose the Ramp entity on the connection page first.",
            kind="error",
        )
        return redirect(back)
    config = FlowConfig(
        version=1,
        connection=ConnectionSection(
            name=connection.name,
            freshbooks_account_id=connection.freshbooks_account_id,
            ramp_entity_id=connection.ramp_entity_id,
        ),
    )
    version = await save_flow(
        admin.runtime,
        connection.id,
        config,
        author=current_user(request) or "admin",
        comment="Started in the admin UI",
    )
    flash(request, f"Flow configuration started (version {version.version}).", kind="success")
    return redirect(back)


def routes(admin: Admin) -> list[Route]:
    base = "/connections/{connection_id:int}/mappings"
    return [
        Route(base, guard(admin, page), methods=["GET"]),
        Route(f"{base}/gl", guard(admin, save_gl), methods=["POST"]),
        Route(f"{base}/document", guard(admin, save_document), methods=["POST"]),
        Route(f"{base}/start", guard(admin, start), methods=["POST"]),
        Route(f"{base}/preview", guard(admin, impact.preview), methods=["POST"]),
        Route(f"{base}/apply", guard(admin, impact.apply), methods=["POST"]),
    ]


__all__ = ["FIELD_PREFIX", "merge_gl", "routes"]
