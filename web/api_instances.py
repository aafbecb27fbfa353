"""`/api/instances…` (contract.md, Instances API): every route scoped to the token's location.

Another location's instance answers exactly like a missing one (404 `not_found`), so ids of
other sub-accounts reveal nothing.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.exceptions import IntegrityError

from ghl_app.bridge import number_settings
from ghl_app.errors import AppError
from ghl_app.models import Instance, InstanceStatus, Location
from ghl_app.sessions import SessionManager
from web.auth import require_admin, require_claims

log = logging.getLogger(__name__)

_MAX_BODY = 16 * 1024


def _sessions(request: Request) -> SessionManager:
    sessions: SessionManager = request.app.state.services.sessions
    return sessions


async def _json_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise AppError("body_too_large", "The request body is too large.", 413)
    if not raw.strip():
        if required:
            raise AppError("invalid_json", "Send a JSON object.", 400)
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise AppError("invalid_json", "The request body is not valid JSON.", 400) from None
    if not isinstance(body, dict):
        raise AppError("invalid_json", "Send a JSON object.", 400)
    return body


def _name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AppError("invalid_name", "Give the instance a name.", 422)
    name = name.strip()
    if len(name) > 100:
        raise AppError("invalid_name", "The name can have at most 100 characters.", 422)
    # Control characters, lone surrogates (not storable as UTF-8: a 500 before) and bidi
    # overrides (they make a name read differently from what it is) are refused (issue 14).
    if any(unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI_CONTROLS for c in name):
        raise AppError("invalid_name", "The name has control or direction characters.", 422)
    return name


_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _name_taken() -> AppError:
    return AppError("name_taken", "Another instance of this location already has that name.", 409)


async def list_instances(request: Request) -> JSONResponse:
    claims = require_claims(request)
    sessions = _sessions(request)
    rows = await Instance.filter(location_id=claims.location_id).order_by("created_at")
    return JSONResponse({"instances": [sessions.snapshot(row) for row in rows]})


async def create_instance(request: Request) -> JSONResponse:
    claims = require_claims(request)
    name = _name(await _json_body(request))
    if not await Location.exists(location_id=claims.location_id):
        raise AppError("not_installed", "The app is not installed on this location.", 403)
    if await Instance.exists(location_id=claims.location_id, name=name):
        raise _name_taken()
    cap = request.app.state.settings.max_instances_per_location
    if await Instance.filter(location_id=claims.location_id).count() >= cap:
        raise AppError(
            "max_instances",
            f"This sub-account already has {cap} WhatsApp numbers. Delete one first.",
            409,
        )
    try:
        instance = await Instance.create(
            location_id=claims.location_id,
            name=name,
            event_settings=number_settings.initial(claims.locale),
        )
    except IntegrityError:
        raise _name_taken() from None  # lost a race with an identical create
    log.info(
        "instance created",
        extra={"instance_id": str(instance.id), "location_id": claims.location_id},
    )
    return JSONResponse(_sessions(request).snapshot(instance), status_code=201)


async def get_instance(request: Request) -> JSONResponse:
    claims = require_claims(request)
    sessions = _sessions(request)
    instance = await sessions.get_instance(request.path_params["id"], claims.location_id)
    return JSONResponse(sessions.snapshot(instance))


async def rename_instance(request: Request) -> JSONResponse:
    claims = require_claims(request)
    sessions = _sessions(request)
    instance = await sessions.get_instance(request.path_params["id"], claims.location_id)
    name = _name(await _json_body(request))
    if name != instance.name:
        if await Instance.exists(location_id=claims.location_id, name=name):
            raise _name_taken()
        instance.name = name
        try:
            await instance.save(update_fields=["name", "updated_at"])
        except IntegrityError:
            raise _name_taken() from None
        await sessions.announce(instance)
    return JSONResponse(sessions.snapshot(instance))


async def delete_instance(request: Request) -> Response:
    claims = require_admin(require_claims(request))
    await _sessions(request).delete(request.path_params["id"], location_id=claims.location_id)
    return Response(status_code=204)


async def start_instance(request: Request) -> JSONResponse:
    claims = require_claims(request)
    body = await _json_body(request, required=False)
    phone = body.get("phone")
    if phone is not None and (not isinstance(phone, str) or not phone.strip()):
        raise AppError("invalid_phone", "Type the phone number with country code.", 422)
    sessions = _sessions(request)
    result = await sessions.start(
        request.path_params["id"], location_id=claims.location_id, phone=phone
    )
    payload: dict[str, Any] = {
        "instance": sessions.snapshot(result.instance),
        "qr": result.qr.to_dict() if result.qr else None,
    }
    if result.pairing_code is not None:
        payload["pairing_code"] = result.pairing_code
    return JSONResponse(payload)


async def stop_instance(request: Request) -> JSONResponse:
    claims = require_claims(request)
    sessions = _sessions(request)
    instance = await sessions.stop(request.path_params["id"], location_id=claims.location_id)
    return JSONResponse(sessions.snapshot(instance))


async def logout_instance(request: Request) -> JSONResponse:
    claims = require_admin(require_claims(request))
    sessions = _sessions(request)
    instance = await sessions.logout(request.path_params["id"], location_id=claims.location_id)
    return JSONResponse(sessions.snapshot(instance))


async def instance_qr(request: Request) -> JSONResponse:
    claims = require_claims(request)
    sessions = _sessions(request)
    instance = await sessions.get_instance(request.path_params["id"], claims.location_id)
    qr = await sessions.qr_of(instance.id)
    if qr is None or instance.status is not InstanceStatus.QR:
        return JSONResponse(
            {
                "error": {
                    "code": "not_waiting_for_qr",
                    "message": "This instance is not waiting for a QR scan.",
                    "status": str(instance.status),
                }
            },
            status_code=409,
        )
    return JSONResponse(qr.to_dict())


routes = [
    Route("/api/instances", list_instances, methods=["GET"]),
    Route("/api/instances", create_instance, methods=["POST"]),
    Route("/api/instances/{id}", get_instance, methods=["GET"]),
    Route("/api/instances/{id}", rename_instance, methods=["PATCH"]),
    Route("/api/instances/{id}", delete_instance, methods=["DELETE"]),
    Route("/api/instances/{id}/start", start_instance, methods=["POST"]),
    Route("/api/instances/{id}/stop", stop_instance, methods=["POST"]),
    Route("/api/instances/{id}/logout", logout_instance, methods=["POST"]),
    Route("/api/instances/{id}/qr", instance_qr, methods=["GET"]),
]
