"""The integrator API (API keys) and the page's key management (page tokens).

Page (`Authorization: Bearer <page token>`, admins create and revoke):
- `GET /api/keys` -> `{"keys": [Key]}`; `POST /api/keys` `{"name"}` -> `201 {"key", "secret"}`
  (the secret is shown this once); `DELETE /api/keys/{id}` -> `{"key"}`.

Integrators (`Authorization: Bearer gwa_…`, scoped to the key's location):
- `GET /api/v1/numbers` -> `{"numbers": [...]}`
- `POST /api/v1/numbers/{id}/messages` `{"to", "text"?, "file"?: {"url"}}`, optional
  `Idempotency-Key` header -> `202 {"message", "duplicate"}`
- `GET /api/v1/messages/{id}` -> `{"message"}` (its journey)
- `GET /api/v1/webhooks`, `POST /api/v1/webhooks` `{"url", "events"?}` -> `201 {"webhook",
  "secret"}`, `DELETE /api/v1/webhooks/{id}`
- `GET /api/v1/events` (WebSocket, same header): every event of the location, live.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ghl_app.errors import AppError
from ghl_app.ghl.webhooks import WebhookRejected
from ghl_app.integrations import keys
from ghl_app.integrations.events import EVENT_TYPES, event_topic
from ghl_app.models import ApiKey, EventEndpoint, Instance, Message
from web.api_messages import message_view
from web.auth import bearer_token, require_claims
from web.params import parse_id
from web.webhooks import read_limited_body

log = logging.getLogger(__name__)

MAX_ENDPOINTS = 10
API_BODY_LIMIT = 64 * 1024


async def _json(request: Request) -> dict[str, Any]:
    try:
        raw = await read_limited_body(request, API_BODY_LIMIT)
    except WebhookRejected as exc:
        raise AppError(exc.code, exc.message, exc.status) from None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AppError("malformed_json", "The body is not JSON.", 400) from None
    if not isinstance(body, dict):
        raise AppError("malformed_json", "The body is not a JSON object.", 400)
    return body


async def _key(conn: HTTPConnection) -> ApiKey:
    token = bearer_token(conn)
    if token is None:
        raise AppError("unauthorized", "A valid API key is required.", 401)
    return await keys.verify_key(token)


def _require_admin(request: Request) -> str:
    claims = require_claims(request)
    if claims.role and claims.role != "admin":
        raise AppError("forbidden", "Only an admin of this sub-account can manage API keys.", 403)
    return claims.location_id


def _number(instance: Instance) -> dict[str, Any]:
    return {
        "id": str(instance.id),
        "name": instance.name,
        "status": instance.status.value,
        "phone_number": instance.phone_number,
        "is_default": instance.is_default,
    }


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise AppError("not_found", f"No such {what}.", 404) from None


# -- the page: keys ---------------------------------------------------------------------------


async def list_keys(request: Request) -> JSONResponse:
    location_id = require_claims(request).location_id
    rows = await ApiKey.filter(location_id=location_id).order_by("-id").limit(100)
    return JSONResponse({"keys": [keys.key_view(row) for row in rows]})


async def create_key(request: Request) -> JSONResponse:
    location_id = _require_admin(request)
    body = await _json(request)
    name = body.get("name")
    if not isinstance(name, str):
        raise AppError("invalid_name", "Give the key a name.", 400)
    row, secret = await keys.create_key(location_id, name, require_claims(request).user_id)
    log.info("API key created", extra={"location_id": location_id})
    return JSONResponse({"key": keys.key_view(row), "secret": secret}, status_code=201)


async def revoke_key(request: Request) -> JSONResponse:
    location_id = _require_admin(request)
    key_pk = parse_id(request.path_params["id"])
    if key_pk is None:
        raise AppError("not_found", "No such API key.", 404)
    row = await keys.revoke_key(location_id, key_pk)
    log.info("API key revoked", extra={"location_id": location_id})
    return JSONResponse({"key": keys.key_view(row)})


# -- integrators --------------------------------------------------------------------------------


async def list_numbers(request: Request) -> JSONResponse:
    key = await _key(request)
    rows = await Instance.filter(location_id=key.location_id).order_by("created_at")
    return JSONResponse({"numbers": [_number(row) for row in rows]})


async def send_message(request: Request) -> JSONResponse:
    key = await _key(request)
    instance_id = _uuid(request.path_params["id"], "number")
    body = await _json(request)
    to, text, file = body.get("to"), body.get("text", ""), body.get("file")
    if not isinstance(to, str) or not isinstance(text, str):
        raise AppError("bad_field", "to and text must be strings.", 400)
    file_url = None
    if file is not None:
        if not isinstance(file, dict) or not isinstance(file.get("url"), str):
            raise AppError("bad_field", 'file must be {"url": "https://…"}.', 400)
        file_url = file["url"]
    idempotency = request.headers.get("idempotency-key")
    if idempotency is not None and (not idempotency.isascii() or len(idempotency) > 100):
        raise AppError("bad_idempotency_key", "Idempotency-Key: at most 100 ASCII chars.", 400)
    message, created = await request.app.state.services.api_sends.accept(
        location_id=key.location_id,
        key_id=key.key_id,
        instance_id=instance_id,
        to=to.strip()[:40],
        text=text.strip(),
        file_url=file_url,
        idempotency_key=idempotency,
    )
    return JSONResponse(
        {"message": message_view(message), "duplicate": not created}, status_code=202
    )


async def get_message(request: Request) -> JSONResponse:
    key = await _key(request)
    message_id = parse_id(request.path_params["id"])
    if message_id is None:
        raise AppError("not_found", "No such message.", 404)
    message = await Message.get_or_none(id=message_id, location_id=key.location_id)
    if message is None:
        raise AppError("not_found", "No such message.", 404)
    return JSONResponse({"message": message_view(message)})


def _endpoint_view(row: EventEndpoint) -> dict[str, Any]:
    return {"id": row.id, "url": row.url, "events": row.events, "active": row.active}


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 2048:
        raise AppError("bad_url", "url must be an http(s) URL.", 400)
    if parts.username or parts.password:
        raise AppError("bad_url", "url must not carry credentials.", 400)
    return url


async def list_webhooks(request: Request) -> JSONResponse:
    key = await _key(request)
    rows = await EventEndpoint.filter(location_id=key.location_id, active=True).order_by("id")
    return JSONResponse({"webhooks": [_endpoint_view(row) for row in rows]})


async def create_webhook(request: Request) -> JSONResponse:
    key = await _key(request)
    body = await _json(request)
    url = body.get("url")
    events = body.get("events", [])
    if not isinstance(url, str):
        raise AppError("bad_url", "url must be an http(s) URL.", 400)
    if not isinstance(events, list) or not all(e in EVENT_TYPES for e in events):
        raise AppError("bad_events", f"events: any of {', '.join(EVENT_TYPES)}.", 400)
    if await EventEndpoint.filter(location_id=key.location_id, active=True).count() >= (
        MAX_ENDPOINTS
    ):
        raise AppError("too_many_webhooks", f"At most {MAX_ENDPOINTS} webhooks.", 409)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    cipher = request.app.state.services.ghl_integration.cipher
    row = await EventEndpoint.create(
        location_id=key.location_id,
        url=_check_url(url),
        secret_enc=cipher.encrypt(secret),
        events=sorted(set(events)),
    )
    log.info("event webhook registered", extra={"location_id": key.location_id})
    return JSONResponse({"webhook": _endpoint_view(row), "secret": secret}, status_code=201)


async def delete_webhook(request: Request) -> JSONResponse:
    key = await _key(request)
    endpoint_id = parse_id(request.path_params["id"])
    if endpoint_id is None:
        raise AppError("not_found", "No such webhook.", 404)
    updated = await EventEndpoint.filter(
        id=endpoint_id, location_id=key.location_id, active=True
    ).update(active=False)
    if not updated:
        raise AppError("not_found", "No such webhook.", 404)
    return JSONResponse({"deleted": True})


async def event_socket(websocket: WebSocket) -> None:
    try:
        key = await _key(websocket)
    except AppError:
        await websocket.close(code=4401)
        return
    await websocket.accept()
    bus = websocket.app.state.services.bus
    subscription = bus.subscribe(event_topic(key.location_id))
    await subscription.ready()

    async def relay() -> None:
        while True:
            message = await subscription.get()
            await websocket.send_json(message["event"])

    task = asyncio.create_task(relay(), name=f"integrator-events:{key.location_id}")
    try:
        while True:  # the client only listens; reading notices a close
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        subscription.close()


routes = [
    Route("/api/keys", list_keys, methods=["GET"]),
    Route("/api/keys", create_key, methods=["POST"]),
    Route("/api/keys/{id}", revoke_key, methods=["DELETE"]),
    Route("/api/v1/numbers", list_numbers, methods=["GET"]),
    Route("/api/v1/numbers/{id}/messages", send_message, methods=["POST"]),
    Route("/api/v1/messages/{id}", get_message, methods=["GET"]),
    Route("/api/v1/webhooks", list_webhooks, methods=["GET"]),
    Route("/api/v1/webhooks", create_webhook, methods=["POST"]),
    Route("/api/v1/webhooks/{id}", delete_webhook, methods=["DELETE"]),
    WebSocketRoute("/api/v1/events", event_socket),
]
