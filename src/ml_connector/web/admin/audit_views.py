"""The per-object audit timeline, with the hash chain checked on every view.

Look an object up by its FreshBooks id or its Ramp id; every chain that mentions it is
shown in order with each step's actor, job and (already redacted) detail, and a chain
whose hashes do not verify is flagged as altered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.store import audit, read
from ml_connector.store import connections as connections_store
from ml_connector.store.audit import AuditEntry
from ml_connector.sync.kinds import OBJECT_KINDS
from ml_connector.web.admin.connections import CONNECTION_OBJECT
from ml_connector.web.admin.context import Admin, guard

OBJECT_TYPES = (*dict.fromkeys(OBJECT_KINDS.values()), CONNECTION_OBJECT)
_MAX_ID = 64


@dataclass(frozen=True)
class Chain:
    name: str
    entries: list[tuple[AuditEntry, str]]
    problems: list[str]


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


async def page(admin: Admin, request: Request) -> Response:
    params = request.query_params
    connection_id = _int_or_none(params.get("connection"))
    object_type = params.get("object_type") or None
    if object_type not in OBJECT_TYPES:
        object_type = None
    fb_id = (params.get("fb_id") or "").strip()[:_MAX_ID]
    ramp_id = (params.get("ramp_id") or "").strip()[:_MAX_ID]
    chains: list[Chain] = []
    async with read(admin.engine) as db:
        connections = await connections_store.list_all(db)
        entries: list[AuditEntry] = []
        if fb_id:
            entries = await audit.for_fb_object(
                db, fb_id=fb_id, object_type=object_type, connection_id=connection_id
            )
        elif ramp_id:
            entries = await audit.for_ramp_id(
                db, ramp_id=ramp_id, object_type=object_type, connection_id=connection_id
            )
        grouped: dict[str, list[AuditEntry]] = {}
        for entry in entries:
            grouped.setdefault(entry.chain, []).append(entry)
        for name, items in grouped.items():
            chains.append(
                Chain(
                    name=name,
                    entries=[(e, _pretty(e.detail)) for e in items],
                    problems=await audit.verify_chain(db, name),
                )
            )
    return admin.render(
        request,
        "admin/audit.html",
        connections=connections,
        object_types=OBJECT_TYPES,
        chains=chains,
        searched=bool(fb_id or ramp_id),
        query={
            "connection": connection_id,
            "object_type": object_type or "",
            "fb_id": fb_id,
            "ramp_id": ramp_id,
        },
    )


def _pretty(detail: object) -> str:
    if not detail:
        return ""
    # Stored details are redacted on write; redacting again costs nothing and keeps a
    # row written by an older build from ever putting a secret on screen.
    return json.dumps(
        audit.redact(detail), indent=2, sort_keys=True, ensure_ascii=False, default=str
    )


def routes(admin: Admin) -> list[Route]:
    return [Route("/audit", guard(admin, page), methods=["GET"])]


__all__ = ["OBJECT_TYPES", "routes"]
