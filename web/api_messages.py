"""The message journey, queryable per instance, and failed work retried from the page.

- `GET /api/instances/{id}/messages?status=&limit=` -> `{"messages": [...]}`: each message's
  direction, origin, status (received, synced, pending, sent, delivered, read, failed) and why
  it failed; newest first. A group message we sent also lists its `receipts` (participant,
  expected, delivered_at, read_at).
- `GET /api/jobs?status=failed` -> `{"jobs": [...]}`: this location's parked jobs.
- `POST /api/jobs/{id}/retry` -> `{"job": ...}`: a parked job back in the queue.
- `PATCH /api/instances/{id}/settings` `{"groups_enabled"?: bool, "is_default"?: bool}` ->
  `{"groups_enabled", "is_default"}` (one default number per location).

Every query is scoped by the token's location; another location's ids answer 404.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tortoise.transactions import in_transaction

from ghl_app.bridge import receipts
from ghl_app.errors import AppError
from ghl_app.models import Instance, Job, Message, MessageStatus
from web.auth import require_claims
from web.params import parse_id


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def message_view(message: Message) -> dict[str, Any]:
    body = message.body or ""
    return {
        "id": message.id,
        "direction": message.direction.value,
        "origin": message.origin.value,
        "status": message.status.value,
        "error": message.error,
        "body": body[:200],
        "media_type": (message.media or {}).get("type"),
        # Outbound: which routing rule picked the number (ghl_app/bridge/routing.py).
        "route": (message.media or {}).get("route"),
        # A reaction, edit or delete note: the WhatsApp id of the message it is about
        # (ghl_app/bridge/event_kinds.py).
        "note_of": (message.media or {}).get("of"),
        # A voice note sent from GHL: its length in seconds (bridge/media/voice_note.py).
        "voice_seconds": (message.media or {}).get("voice_seconds"),
        "wa_message_id": message.wa_message_id,
        "ghl_message_id": message.ghl_message_id,
        "created_at": _iso(message.created_at),
        "updated_at": _iso(message.updated_at),
    }


def job_view(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "last_error": job.last_error,
        "message_id": job.payload.get("message_id"),
        "run_after": _iso(job.run_after),
        "updated_at": _iso(job.updated_at),
    }


async def _instance(request: Request, location_id: str) -> Instance:
    try:
        instance_id = uuid.UUID(request.path_params["id"])
    except ValueError:
        raise AppError("not_found", "No such instance.", 404) from None
    instance = await Instance.get_or_none(id=instance_id, location_id=location_id)
    if instance is None:
        raise AppError("not_found", "No such instance.", 404)
    return instance


def _limit(request: Request) -> int:
    limit = parse_id(request.query_params.get("limit", "50"))
    if limit is None:
        raise AppError("bad_limit", "limit must be a whole number.", 400)
    return max(1, min(limit, 500))


async def list_messages(request: Request) -> JSONResponse:
    claims = require_claims(request)
    instance = await _instance(request, claims.location_id)
    query = Message.filter(instance_id=instance.id, location_id=claims.location_id)
    status = request.query_params.get("status")
    if status:
        try:
            query = query.filter(status=MessageStatus(status))
        except ValueError:
            raise AppError("bad_status", f"Unknown message status {status!r}.", 400) from None
    messages = await query.order_by("-id").limit(_limit(request))
    views = [message_view(m) for m in messages]
    # A group message we sent: who got it and who read it (ghl_app/bridge/receipts.py).
    found = await receipts.receipts_of(claims.location_id, [m.id for m in messages])
    for view in views:
        if view["id"] in found:
            view["receipts"] = found[view["id"]]
    return JSONResponse({"messages": views})


async def list_jobs(request: Request) -> JSONResponse:
    claims = require_claims(request)
    status = request.query_params.get("status") or None
    try:
        jobs = await request.app.state.services.jobs.list_jobs(
            location_id=claims.location_id, status=status, limit=_limit(request)
        )
    except ValueError:
        raise AppError("bad_status", f"Unknown job status {status!r}.", 400) from None
    return JSONResponse({"jobs": [job_view(job) for job in jobs]})


async def retry_job(request: Request) -> JSONResponse:
    claims = require_claims(request)
    job_id = parse_id(request.path_params["id"])
    if job_id is None:
        raise AppError("job_not_found", "No such job in this location.", 404)
    job = await request.app.state.services.jobs.retry(job_id, location_id=claims.location_id)
    message_id = job.payload.get("message_id")
    if isinstance(message_id, int):
        # The message's journey shows it is on its way again.
        await Message.filter(
            id=message_id, location_id=claims.location_id, status=MessageStatus.FAILED
        ).update(status=MessageStatus.PENDING, error=None)
    return JSONResponse({"job": job_view(job)})


async def instance_settings(request: Request) -> JSONResponse:
    """`groups_enabled` (bool) and `is_default` (true: this becomes the location's default
    number for replies the routing rules cannot place, see ghl_app/bridge/routing.py)."""
    claims = require_claims(request)
    instance = await _instance(request, claims.location_id)
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise AppError("malformed_json", "The body is not JSON.", 400) from None
    if not isinstance(body, dict) or not body.keys() & {"groups_enabled", "is_default"}:
        raise AppError("bad_setting", "Send groups_enabled or is_default.", 400)
    groups = body.get("groups_enabled", instance.groups_enabled)
    default = body.get("is_default", instance.is_default)
    if not isinstance(groups, bool):
        raise AppError("bad_setting", "groups_enabled must be true or false.", 400)
    if not isinstance(default, bool):
        raise AppError("bad_setting", "is_default must be true or false.", 400)
    async with in_transaction() as conn:
        if default and not instance.is_default:
            # One default per location.
            await (
                Instance.filter(location_id=claims.location_id, is_default=True)
                .using_db(conn)
                .update(is_default=False)
            )
        await (
            Instance.filter(id=instance.id, location_id=claims.location_id)
            .using_db(conn)
            .update(groups_enabled=groups, is_default=default)
        )
    return JSONResponse({"groups_enabled": groups, "is_default": default})


routes = [
    Route("/api/instances/{id}/messages", list_messages, methods=["GET"]),
    Route("/api/instances/{id}/settings", instance_settings, methods=["PATCH"]),
    Route("/api/jobs", list_jobs, methods=["GET"]),
    Route("/api/jobs/{id}/retry", retry_job, methods=["POST"]),
]
