"""Raw-HTTP helpers for the Ramp contract suite, written from `reference/ramp-api.md`."""

from __future__ import annotations

import json
from typing import Any

import httpx2

BASE = "https://api.ramp.com"
API = f"{BASE}/developer/v1"


class Receiver:
    """A webhook endpoint: records every delivery, answers with scripted statuses."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.statuses: list[int] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx2.Response(status)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


async def get_token(
    http: httpx2.AsyncClient, creds: dict[str, Any], scope: str | None = None
) -> str:
    response = await http.post(
        "/developer/v1/token",
        auth=(creds["client_id"], creds["client_secret"]),
        data={"grant_type": "client_credentials", "scope": scope or creds["scope"]},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def create_vendor(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, name: str = "Acme, Inc."
) -> dict[str, Any]:
    response = await http.post(
        "/developer/v1/vendors",
        headers=headers,
        json={
            "name": name,
            "country": "US",
            "state": "NY",
            "vendor_owner_id": owner_id,
            "business_vendor_contacts": {"email": "ap@acme.example", "first_name": "Ana"},
        },
    )
    assert response.status_code == 200, response.text
    vendor: dict[str, Any] = response.json()
    return vendor


def bill_body(vendor: dict[str, Any], entity_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "vendor_id": vendor["id"],
        "vendor_contact_id": vendor["contacts"][0],
        "entity_id": entity_id,
        "invoice_number": "FB-000432",
        "invoice_currency": "USD",
        "issued_at": "2026-10-01",
        "due_at": "2026-10-31",
        "payment_method": "UNSPECIFIED",
        "remote_id": "freshbooks:bill:432",
        "line_items": [{"amount": "19.98", "memo": "Headset"}, {"amount": 949.95}],
    }
    body.update(overrides)
    return body
