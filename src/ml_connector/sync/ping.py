"""`ping`: read-only checks of both systems for one connection, each timed and judged.

Nothing here writes to FreshBooks, Ramp or our database. Each check is one or two
calls; a failing check never stops the others, and a check that needs an earlier one
(for instance coverage needs categories and GL accounts) is skipped with the reason.
The verdicts themselves are `core.ping`'s.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ml_connector.clients.freshbooks import FreshBooksClient
from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ramp.accounting import DEFAULT_PROVIDER_NAME
from ml_connector.core.errors import (
    ApiError,
    AuthError,
    ConnectorError,
    InvalidGrantError,
    MissingScopeError,
    RetriableError,
)
from ml_connector.core.flow_config import ConfigErrors, load_flow_config
from ml_connector.core.gl import build_gl_map, coverage_report
from ml_connector.core.model import Category, GLAccount
from ml_connector.core.ping import (
    Check,
    Judgment,
    Verdict,
    judge_accounting_connection,
    judge_business,
    judge_coverage,
    judge_entities,
    judge_gl_accounts,
    judge_readable,
    judge_scopes,
    overall,
)
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read
from ml_connector.store.connections import Connection
from ml_connector.sync import convert
from ml_connector.sync.runtime import Runtime

T = TypeVar("T")
Timer = Callable[[], float]

USAGE_SAMPLE = 500
"""Bills and expenses read (newest first) to learn which categories are in use."""
COUNT_CAP = 1000
"""Ramp lists have no totals; counting stops here and reports "1000+"."""


@dataclass(frozen=True, kw_only=True)
class PingReport:
    connection: str
    checks: tuple[Check, ...]

    @property
    def verdict(self) -> Verdict:
        return overall(self.checks)


@dataclass
class _Facts:
    """What earlier checks learned, for the checks that build on them."""

    categories: list[Category] | None = None
    gl_accounts: list[GLAccount] | None = None
    usage: Counter[str] = field(default_factory=Counter)
    accounting_active: bool | None = None


def fix_for(error: BaseException) -> str:
    """What to do about an error a check ran into."""
    if isinstance(error, InvalidGrantError):
        return "the FreshBooks authorization is gone: `ml-connector connect freshbooks`"
    if isinstance(error, MissingScopeError):
        return error.detail or "grant the missing scope to the API app"
    if isinstance(error, AuthError):
        if getattr(error, "system", "") == "ramp":
            return "check the Ramp API client: `ml-connector connect ramp`"
        return "authorize again: `ml-connector connect freshbooks`"
    if isinstance(error, RetriableError):
        return "the service is busy or unreachable; run ping again in a minute"
    return "see the detail; `ml-connector status` shows the connection"


class _Runner:
    def __init__(self, timer: Timer) -> None:
        self._timer = timer
        self.checks: list[Check] = []

    async def check(
        self,
        check_id: str,
        system: str,
        title: str,
        probe: Callable[[], Awaitable[tuple[Judgment, dict[str, Any]]]],
        *,
        needs: tuple[str, ...] = (),
    ) -> Check:
        blocked = [c for c in self.checks if c.id in needs and c.verdict is not Verdict.PASS]
        blocked = [c for c in blocked if c.verdict in (Verdict.FAIL, Verdict.SKIP)]
        if blocked:
            result = Check(
                id=check_id, system=system, title=title, verdict=Verdict.SKIP,
                detail=f"skipped: {blocked[0].title.lower()} did not pass",
            )  # fmt: skip
            self.checks.append(result)
            return result
        start = self._timer()
        try:
            judgment, data = await probe()
        except ConnectorError as exc:
            judgment, data = Judgment(Verdict.FAIL, str(exc), fix_for(exc)), {}
            if isinstance(exc, ApiError):
                data = {"status": exc.status, "code": exc.code}
        latency = round((self._timer() - start) * 1000, 1)
        result = Check(
            id=check_id, system=system, title=title, verdict=judgment.verdict,
            detail=judgment.detail, fix=judgment.fix, latency_ms=latency, data=data,
        )  # fmt: skip
        self.checks.append(result)
        return result


async def _count(items: AsyncIterator[T], cap: int = COUNT_CAP) -> tuple[int, bool]:
    seen = 0
    async for _ in items:
        seen += 1
        if seen >= cap:
            return seen, True
    return seen, False


async def ping_connection(
    runtime: Runtime, connection: Connection, *, timer: Timer = time.perf_counter
) -> PingReport:
    """Run every check for `connection`; never writes anything anywhere."""
    runner = _Runner(timer)
    facts = _Facts()
    fb = runtime.freshbooks_client(connection)
    try:
        await _freshbooks_checks(runner, fb, connection, facts)
    finally:
        await fb.aclose()
    try:
        ramp = await runtime.ramp_client(connection)
    except ConnectorError as exc:
        runner.checks.append(
            Check(
                id="ramp.token",
                system="ramp",
                title="Ramp API client",
                verdict=Verdict.FAIL,
                detail=str(exc),
                fix=fix_for(exc),
            )
        )
    else:
        try:
            await _ramp_checks(runner, ramp, connection, facts)
        finally:
            await ramp.aclose()
    await _coverage_check(runner, runtime, connection, facts)
    return PingReport(connection=connection.name, checks=tuple(runner.checks))


async def _freshbooks_checks(
    runner: _Runner, fb: FreshBooksClient, connection: Connection, facts: _Facts
) -> None:
    account = connection.freshbooks_account_id

    async def identity() -> tuple[Judgment, dict[str, Any]]:
        refs = await fb.businesses()
        reachable = [r.account_id for r in refs if r.account_id]
        names = {r.account_id: r.name for r in refs if r.account_id}
        return judge_business(account, reachable), {"businesses": names}

    await runner.check("freshbooks.identity", "freshbooks", "FreshBooks identity", identity)
    if account is None:
        return
    needs = ("freshbooks.identity",)

    async def bills() -> tuple[Judgment, dict[str, Any]]:
        total = 0
        async for bill in fb.bills(account).list(sort="updated_at_desc"):
            total += 1
            for line in bill.lines:
                if line.category_id is not None:
                    facts.usage[str(line.category_id)] += 1
            if total >= USAGE_SAMPLE:
                break
        page = await fb.bills(account).page(1, per_page=1)
        return judge_readable("bills", page.total), {"count": page.total}

    async def vendors() -> tuple[Judgment, dict[str, Any]]:
        page = await fb.bill_vendors(account).page(1, per_page=1)
        return judge_readable("bill vendors", page.total), {"count": page.total}

    async def expenses() -> tuple[Judgment, dict[str, Any]]:
        seen = 0
        async for expense in fb.expenses(account).list():
            seen += 1
            if expense.categoryid is not None:
                facts.usage[str(expense.categoryid)] += 1
            if seen >= USAGE_SAMPLE:
                break
        page = await fb.expenses(account).page(1, per_page=1)
        return judge_readable("expenses", page.total), {"count": page.total}

    async def categories() -> tuple[Judgment, dict[str, Any]]:
        facts.categories = [convert.category(c) async for c in fb.categories(account).list()]
        return judge_readable("categories", len(facts.categories)), {"count": len(facts.categories)}

    await runner.check("freshbooks.bills", "freshbooks", "FreshBooks bills", bills, needs=needs)
    await runner.check(
        "freshbooks.vendors", "freshbooks", "FreshBooks bill vendors", vendors, needs=needs
    )
    await runner.check(
        "freshbooks.expenses", "freshbooks", "FreshBooks expenses", expenses, needs=needs
    )
    await runner.check(
        "freshbooks.categories", "freshbooks", "FreshBooks categories", categories, needs=needs
    )


async def _ramp_checks(
    runner: _Runner, ramp: RampClient, connection: Connection, facts: _Facts
) -> None:
    async def token() -> tuple[Judgment, dict[str, Any]]:
        tokens = await ramp.token()
        return Judgment(Verdict.PASS, "token issued"), {"expires_at": tokens.expires_at}

    async def scopes() -> tuple[Judgment, dict[str, Any]]:
        missing = await ramp.check_scopes()
        return judge_scopes({m.scope: m.remediation for m in missing}), {
            "missing": [m.scope for m in missing]
        }

    async def entities() -> tuple[Judgment, dict[str, Any]]:
        found = [e async for e in ramp.entities.list()]
        return judge_entities([e.id for e in found], connection.ramp_entity_id), {
            "entities": {e.id: e.entity_name for e in found}
        }

    async def accounting() -> tuple[Judgment, dict[str, Any]]:
        active = [
            c.remote_provider_name or c.id
            for c in await ramp.accounting.connections()
            if c.is_active
        ]
        facts.accounting_active = bool(active)
        return judge_accounting_connection(active, ours=DEFAULT_PROVIDER_NAME), {"active": active}

    async def gl_accounts() -> tuple[Judgment, dict[str, Any]]:
        if facts.accounting_active is False:
            # Ramp refuses to list accounts without an accounting connection.
            facts.gl_accounts = []
            return Judgment(
                Verdict.WARN,
                "no GL accounts: Ramp has no accounting connection yet",
                "setup creates the connection and uploads a chart from the FreshBooks categories",
            ), {"active": 0, "inactive": 0}
        accounts = []
        async for wire in ramp.accounting.gl_accounts.list():
            account = convert.gl_account(wire)
            if account is not None:
                accounts.append(account)
        facts.gl_accounts = accounts
        active = sum(1 for a in accounts if a.active)
        return judge_gl_accounts(active, len(accounts) - active), {
            "active": active,
            "inactive": len(accounts) - active,
        }

    async def vendors() -> tuple[Judgment, dict[str, Any]]:
        count, capped = await _count(ramp.vendors.list())
        return judge_readable("vendors", count, capped=capped), {"count": count}

    await runner.check("ramp.token", "ramp", "Ramp token", token)
    needs = ("ramp.token",)
    await runner.check("ramp.scopes", "ramp", "Ramp scopes", scopes, needs=needs)
    await runner.check("ramp.entities", "ramp", "Ramp entities", entities, needs=needs)
    await runner.check(
        "ramp.accounting", "ramp", "Ramp accounting connection", accounting, needs=needs
    )
    await runner.check("ramp.gl_accounts", "ramp", "Ramp GL accounts", gl_accounts, needs=needs)
    await runner.check("ramp.vendors", "ramp", "Ramp vendors", vendors, needs=needs)


async def _coverage_check(
    runner: _Runner, runtime: Runtime, connection: Connection, facts: _Facts
) -> None:
    async def coverage() -> tuple[Judgment, dict[str, Any]]:
        async with read(runtime.engine) as db:
            current = await mappings_store.current(db, connection.id)
        if current is None:
            return judge_coverage(None), {}
        loaded = load_flow_config(current.text, source=f"mapping v{current.version}")
        if isinstance(loaded, ConfigErrors):
            return Judgment(
                Verdict.FAIL,
                f"the saved mapping (version {current.version}) is invalid: {loaded}",
                "import a corrected file: `ml-connector mappings import FILE`",
            ), {}
        gl_map = build_gl_map(
            [entry.rule() for entry in loaded.gl.mappings],
            facts.categories or (),
            facts.gl_accounts or (),
            loaded.gl.suspense_account,
        )
        report = coverage_report(gl_map, facts.usage)
        return judge_coverage(report), {
            "mapping_version": current.version,
            "categories_in_use": len(report.in_use),
            "unmapped": [c.name for c, *_ in report.unmapped],
            "to_missing": [ref for _, ref in report.to_missing],
            "to_inactive": [a.code or a.id for _, a in report.to_inactive],
        }

    await runner.check(
        "mapping.coverage",
        "mapping",
        "Category → GL coverage",
        coverage,
        needs=("freshbooks.categories", "freshbooks.bills", "ramp.gl_accounts"),
    )


__all__ = ["PingReport", "ping_connection"]
