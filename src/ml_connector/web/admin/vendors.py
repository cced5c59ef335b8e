"""Vendor links and the review queue for ambiguous vendor matches and expenses.

Hand-made links (`[[vendors.links]]`) outrank every matching rule. The review queue is
the vendor and expense jobs parked in "needs attention" with their reason; resolving a
vendor there adds the link the admin chose and replays the job with the new mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.core.flow_config import VendorLink
from ml_connector.queue import Job, JobState, list_jobs, replay
from ml_connector.store import links as links_store
from ml_connector.store import read
from ml_connector.sync.kinds import Kind
from ml_connector.web.admin import live
from ml_connector.web.admin.connections import load_connection, not_found
from ml_connector.web.admin.context import (
    Admin,
    current_user,
    flash,
    form_fields,
    guard,
    redirect,
)
from ml_connector.web.admin.flow import InvalidConfigError, current_flow, revalidate, save_flow

REVIEW_KINDS = (Kind.SYNC_VENDOR, Kind.SYNC_EXPENSE)


@dataclass(frozen=True)
class VendorRow:
    fb_id: str
    name: str
    configured: str | None
    synced: str | None


async def review_jobs(admin: Admin, connection_id: int) -> list[Job]:
    async with read(admin.engine) as db:
        found: list[Job] = []
        for kind in REVIEW_KINDS:
            found += await list_jobs(
                db, states=[JobState.ATTENTION], kind=kind.value, connection_id=connection_id
            )
    return sorted(found, key=lambda j: j.id, reverse=True)


async def page(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    flow = await current_flow(admin.runtime, connection.id)
    fb_vendors = await live.freshbooks_vendors(admin.runtime, connection)
    ramp_vendors = await live.ramp_vendors(admin.runtime, connection)
    configured = {link.freshbooks_vendor_id: link.ramp_vendor_id for link in (
        flow.config.vendors.links if flow.config is not None else ()
    )}  # fmt: skip
    rows: list[VendorRow] = []
    async with read(admin.engine) as db:
        for fb_id, name in sorted(fb_vendors.value or [], key=lambda v: v[1].casefold()):
            stored = await links_store.get(
                db,
                connection_id=connection.id,
                fb_type="bill_vendor",
                fb_id=fb_id,
                ramp_type="vendor",
            )
            rows.append(
                VendorRow(
                    fb_id=fb_id,
                    name=name,
                    configured=configured.get(fb_id),
                    synced=stored.ramp_id if stored is not None else None,
                )
            )
    return admin.render(
        request,
        "admin/vendors.html",
        connection=connection,
        flow=flow,
        rows=rows,
        fb_names=dict(fb_vendors.value or []),
        ramp_vendors=sorted((ramp_vendors.value or {}).items(), key=lambda kv: kv[1].casefold()),
        ramp_names=ramp_vendors.value or {},
        review=await review_jobs(admin, connection.id),
        fetch_errors=[f.error for f in (fb_vendors, ramp_vendors) if f.error],
    )


async def _save_links(
    admin: Admin, request: Request, connection_id: int, links: tuple[VendorLink, ...], what: str
) -> bool:
    flow = await current_flow(admin.runtime, connection_id)
    if flow.config is None:
        flash(request, "There is no valid flow configuration to edit yet.", kind="error")
        return False
    vendors = flow.config.vendors.model_copy(update={"links": links})
    try:
        config = revalidate(flow.config, vendors=vendors)
    except InvalidConfigError as exc:
        flash(request, f"Not saved: {exc}", kind="error")
        return False
    version = await save_flow(
        admin.runtime,
        connection_id,
        config,
        author=current_user(request) or "admin",
        comment=f"Vendor links: {what}",
    )
    flash(request, f"Vendor link {what} (version {version.version}).", kind="success")
    return True


async def _current_links(admin: Admin, connection_id: int) -> list[VendorLink]:
    flow = await current_flow(admin.runtime, connection_id)
    return list(flow.config.vendors.links) if flow.config is not None else []


async def add_link(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    back = f"/connections/{connection.id}/vendors"
    fields = await form_fields(request)
    fb_id = fields.get("freshbooks_vendor_id", "").strip()
    ramp_id = fields.get("ramp_vendor_id", "").strip()
    if not fb_id or not ramp_id:
        flash(request, "Choose a FreshBooks vendor and a Ramp vendor.", kind="error")
        return redirect(back)
    links = [link for link in await _current_links(admin, connection.id)
             if link.freshbooks_vendor_id != fb_id]  # fmt: skip
    links.append(VendorLink(freshbooks_vendor_id=fb_id, ramp_vendor_id=ramp_id))
    saved = await _save_links(admin, request, connection.id, tuple(links), "saved")
    job_id = fields.get("job_id", "")
    if saved and job_id.isdigit():
        async with admin.engine.begin() as db:
            replayed = await replay(
                db,
                now=admin.now(),
                actor=f"admin:{current_user(request) or 'admin'}",
                job_ids=[int(job_id)],
                mapping="current",
            )
        if replayed:
            flash(request, f"Job {job_id} replayed with the new link.", kind="success")
    return redirect(back)


async def remove_link(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    fb_id = (await form_fields(request)).get("freshbooks_vendor_id", "")
    links = await _current_links(admin, connection.id)
    kept = tuple(link for link in links if link.freshbooks_vendor_id != fb_id)
    if len(kept) == len(links):
        flash(request, "That link no longer exists.", kind="error")
    else:
        await _save_links(admin, request, connection.id, kept, "removed")
    return redirect(f"/connections/{connection.id}/vendors")


def routes(admin: Admin) -> list[Route]:
    base = "/connections/{connection_id:int}/vendors"
    return [
        Route(base, guard(admin, page), methods=["GET"]),
        Route(f"{base}/links", guard(admin, add_link), methods=["POST"]),
        Route(f"{base}/links/remove", guard(admin, remove_link), methods=["POST"]),
    ]


__all__ = ["REVIEW_KINDS", "review_jobs", "routes"]
