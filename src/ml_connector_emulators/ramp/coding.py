"""Accounting coding: resolve `{field_external_id, field_option_external_id}` selections.

Coding on bills and transaction lines names a field and an option by their ERP (remote)
ids. The native GL-account field is not a custom field: under an API connection its
external id is `"Category"` (a quirk switch) and its options are the uploaded GL
accounts; any other field must be an active custom field of the active connection with
an active option (hidden options are accepted, as observed live). Anything else is
refused with Ramp's field / option codes rather than stored uncoded.
"""

from __future__ import annotations

from typing import Any

from ml_connector_emulators.ramp.conventions import BAD_FIELD, BAD_FIELD_OPTION, ApiError
from ml_connector_emulators.ramp.models import Business, Selection
from ml_connector_emulators.ramp.validation import Field, obj, string

SELECTION = obj(
    {
        "field_external_id": Field(string(255, 1), True),
        "field_option_external_id": Field(string(255, 1), True),
    }
)


def resolve_selections(
    business: Business, gl_field_external_id: str, selections: list[dict[str, Any]]
) -> list[Selection]:
    resolved: list[Selection] = []
    seen: set[str] = set()
    connection = business.active_connection()
    for raw in selections:
        field_id = str(raw["field_external_id"])
        option_id = str(raw["field_option_external_id"])
        if field_id in seen:
            raise ApiError(
                400,
                BAD_FIELD,
                f"More than one selection for field {field_id}.",
                {"field_external_id": [field_id]},
            )
        seen.add(field_id)
        if connection is None:
            raise ApiError(
                400,
                BAD_FIELD,
                "A connection is required in order to use our accounting API functionality.",
                {"field_external_id": [field_id]},
            )
        if field_id == gl_field_external_id:
            account = next(
                (
                    a
                    for a in connection.gl_accounts.values()
                    if a.remote_id == option_id and a.is_active
                ),
                None,
            )
            if account is None:
                raise _bad_option(field_id, option_id)
            resolved.append(
                Selection(
                    option_ramp_id=account.ramp_id,
                    option_external_id=account.remote_id,
                    option_code=account.code,
                    option_name=account.name,
                    field_ramp_id=connection.gl_field_ramp_id,
                    field_external_id=gl_field_external_id,
                    field_name=gl_field_external_id,
                    field_type="GL_ACCOUNT",
                )
            )
            continue
        field = next(
            (f for f in connection.fields.values() if f.remote_id == field_id and f.is_active),
            None,
        )
        if field is None:
            raise ApiError(
                400,
                BAD_FIELD,
                f"No active accounting field with remote ID {field_id}.",
                {"field_external_id": [field_id]},
            )
        option = next(
            (
                o
                for o in connection.options.values()
                if o.field_ramp_id == field.ramp_id and o.remote_id == option_id and o.is_active
            ),
            None,
        )
        if option is None:
            raise _bad_option(field_id, option_id)
        resolved.append(
            Selection(
                option_ramp_id=option.ramp_id,
                option_external_id=option.remote_id,
                option_code=option.code,
                option_name=option.value,
                field_ramp_id=field.ramp_id,
                field_external_id=field.remote_id,
                field_name=field.name,
                field_type="OTHER",
            )
        )
    return resolved


def _bad_option(field_id: str, option_id: str) -> ApiError:
    return ApiError(
        400,
        BAD_FIELD_OPTION,
        f"No active option with remote ID {option_id} for field {field_id}.",
        {"field_option_external_id": [option_id]},
    )


def render_selection(selection: Selection) -> dict[str, Any]:
    return {
        "id": selection.option_ramp_id,
        "external_id": selection.option_external_id,
        "external_code": selection.option_code,
        "name": selection.option_name,
        "category_info": {
            "id": selection.field_ramp_id,
            "external_id": selection.field_external_id,
            "name": selection.field_name,
            "type": selection.field_type,
        },
    }
