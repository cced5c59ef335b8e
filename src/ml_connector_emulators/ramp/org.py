"""Departments, locations, entities and users (§6.6).

Entities are read-only through the API (configured in Ramp's UI): the sandbox seeds them,
each with a `BILL_PAY_BANK_ACCOUNT` bills can be paid from. Departments and locations can
be created and renamed; users are read here (they are `vendor_owner_id` candidates and
card holders).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.ramp.auth import Call, api
from ml_connector_emulators.ramp.conventions import (
    json_response,
    not_found,
    paginate,
    read_json,
)
from ml_connector_emulators.ramp.models import Department, Entity, Location, User
from ml_connector_emulators.ramp.validation import Field, string, uuid_string, validate_body


def render_department(department: Department) -> dict[str, Any]:
    return {"id": department.id, "name": department.name}


def render_location(location: Location) -> dict[str, Any]:
    return {"id": location.id, "name": location.name, "entity_id": location.entity_id}


def render_entity(entity: Entity) -> dict[str, Any]:
    return {
        "id": entity.id,
        "entity_name": entity.entity_name,
        "currency": entity.currency,
        "is_primary": entity.is_primary,
        "location_ids": list(entity.location_ids),
        "accounts": [
            {
                "id": account.id,
                "classification": account.classification,
                "external_id": account.external_id,
                "external_name": account.name,
                "usage_type": account.usage_type,
            }
            for account in entity.accounts
        ],
    }


def render_user(user: User, business_id: str) -> dict[str, Any]:
    return {
        "id": user.id,
        "business_id": business_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "status": user.status,
        "entity_id": user.entity_id,
        "department_id": user.department_id,
        "location_id": user.location_id,
        "employee_id": user.employee_id,
        "is_manager": user.is_manager,
        "manager_id": None,
    }


# --- departments ----------------------------------------------------------------------


@api("departments:read")
async def list_departments(call: Call) -> Response:
    items = list(call.business.departments.values())
    return paginate(call.request, items, render_department, lambda d: d.id, call.world.public_url)


@api("departments:write")
async def create_department(call: Call) -> Response:
    body = validate_body(await read_json(call.request), {"name": Field(string(200, 1), True)})
    department = Department(id=call.world.new_id(), name=body["name"])
    call.business.departments[department.id] = department
    return json_response(render_department(department), 201)


@api("departments:read")
async def get_department(call: Call) -> Response:
    department = call.business.departments.get(call.param("department_id"))
    if department is None:
        raise not_found("Department")
    return json_response(render_department(department))


@api("departments:write")
async def patch_department(call: Call) -> Response:
    department = call.business.departments.get(call.param("department_id"))
    if department is None:
        raise not_found("Department")
    body = validate_body(await read_json(call.request), {"name": Field(string(200, 1))})
    department.name = body.get("name", department.name)
    return json_response(render_department(department))


# --- locations ------------------------------------------------------------------------


@api("locations:read")
async def list_locations(call: Call) -> Response:
    entity_id = call.request.query_params.get("entity_id")
    items = [
        loc
        for loc in call.business.locations.values()
        if entity_id is None or loc.entity_id == entity_id
    ]
    return paginate(call.request, items, render_location, lambda x: x.id, call.world.public_url)


@api("locations:write")
async def create_location(call: Call) -> Response:
    body = validate_body(
        await read_json(call.request),
        {"name": Field(string(200, 1), True), "entity_id": Field(uuid_string, nullable=True)},
    )
    entity_id = body.get("entity_id")
    if entity_id is not None and entity_id not in call.business.entities:
        raise not_found("Entity")
    location = Location(id=call.world.new_id(), name=body["name"], entity_id=entity_id)
    call.business.locations[location.id] = location
    if entity_id is not None:
        call.business.entities[entity_id].location_ids.append(location.id)
    return json_response(render_location(location), 201)


@api("locations:read")
async def get_location(call: Call) -> Response:
    location = call.business.locations.get(call.param("location_id"))
    if location is None:
        raise not_found("Location")
    return json_response(render_location(location))


@api("locations:write")
async def patch_location(call: Call) -> Response:
    location = call.business.locations.get(call.param("location_id"))
    if location is None:
        raise not_found("Location")
    body = validate_body(await read_json(call.request), {"name": Field(string(200, 1))})
    location.name = body.get("name", location.name)
    return json_response(render_location(location))


# --- entities and users ---------------------------------------------------------------


@api("entities:read")
async def list_entities(call: Call) -> Response:
    query = call.request.query_params
    items = [
        entity
        for entity in call.business.entities.values()
        if query.get("currency") in (None, entity.currency)
        and query.get("entity_name") in (None, entity.entity_name)
        and query.get("is_primary") in (None, str(entity.is_primary).lower())
    ]
    return paginate(call.request, items, render_entity, lambda e: e.id, call.world.public_url)


@api("entities:read")
async def get_entity(call: Call) -> Response:
    entity = call.business.entities.get(call.param("entity_id"))
    if entity is None:
        raise not_found("Entity")
    return json_response(render_entity(entity))


_USER_FILTERS = ("email", "employee_id", "role", "entity_id", "department_id", "location_id")


@api("users:read")
async def list_users(call: Call) -> Response:
    query = call.request.query_params
    items = [
        user
        for user in call.business.users.values()
        if all(
            query.get(name) is None
            or str(getattr(user, name) or "").casefold() == query[name].casefold()
            for name in _USER_FILTERS
        )
    ]
    business_id = call.business.id
    return paginate(
        call.request,
        items,
        lambda u: render_user(u, business_id),
        lambda u: u.id,
        call.world.public_url,
    )


@api("users:read")
async def get_user(call: Call) -> Response:
    user = call.business.users.get(call.param("user_id"))
    if user is None:
        raise not_found("User")
    return json_response(render_user(user, call.business.id))


_BASE = "/developer/v1"
ROUTES = [
    Route(f"{_BASE}/departments", list_departments, methods=["GET"]),
    Route(f"{_BASE}/departments", create_department, methods=["POST"]),
    Route(f"{_BASE}/departments/{{department_id}}", get_department, methods=["GET"]),
    Route(f"{_BASE}/departments/{{department_id}}", patch_department, methods=["PATCH"]),
    Route(f"{_BASE}/locations", list_locations, methods=["GET"]),
    Route(f"{_BASE}/locations", create_location, methods=["POST"]),
    Route(f"{_BASE}/locations/{{location_id}}", get_location, methods=["GET"]),
    Route(f"{_BASE}/locations/{{location_id}}", patch_location, methods=["PATCH"]),
    Route(f"{_BASE}/entities", list_entities, methods=["GET"]),
    Route(f"{_BASE}/entities/{{entity_id}}", get_entity, methods=["GET"]),
    Route(f"{_BASE}/users", list_users, methods=["GET"]),
    Route(f"{_BASE}/users/{{user_id}}", get_user, methods=["GET"]),
]
