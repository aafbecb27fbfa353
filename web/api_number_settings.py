"""`/api/instances/{id}/event-settings`: a number's settings for the WhatsApp events of issue 16
(notes language, calls, ignore list); ghl_app/bridge/number_settings.py holds their meaning.

- `GET` -> `{"notes_language", "reject_calls", "call_reply", "ignored_chats", "read_sync",
  "pacing_min_gap_s", "pacing_jitter_s", "pacing_per_minute", "typing", "typing_max_s",
  "groups_enabled"}` (groups are changed through `PATCH /api/instances/{id}/settings`)
- `PATCH` with any of those keys -> the settings after the change (400 `bad_setting` when
  malformed; admins only, like the other settings that change what reaches GHL).
"""

from __future__ import annotations

import json
import logging
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ghl_app.bridge import number_settings
from ghl_app.errors import AppError
from ghl_app.models import Instance
from web.auth import require_admin, require_claims

log = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024


async def _instance_id(request: Request, location_id: str) -> uuid.UUID:
    try:
        instance_id = uuid.UUID(request.path_params["id"])
    except ValueError:
        raise AppError("not_found", "No such instance.", 404) from None
    if not await Instance.exists(id=instance_id, location_id=location_id):
        raise AppError("not_found", "No such instance.", 404)
    return instance_id


async def get_settings(request: Request) -> JSONResponse:
    claims = require_claims(request)
    instance_id = await _instance_id(request, claims.location_id)
    settings = await number_settings.load(instance_id, claims.location_id)
    # Groups are set through PATCH /api/instances/{id}/settings; shown here so the page's
    # settings panel reads everything of the number in one call.
    groups = await Instance.filter(id=instance_id, location_id=claims.location_id).values_list(
        "groups_enabled", flat=True
    )
    return JSONResponse({**settings.view(), "groups_enabled": bool(groups and groups[0])})


async def patch_settings(request: Request) -> JSONResponse:
    claims = require_admin(require_claims(request))
    instance_id = await _instance_id(request, claims.location_id)
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise AppError("body_too_large", "The request body is too large.", 413)
    try:
        body = json.loads(raw)
    except ValueError:
        raise AppError("malformed_json", "The body is not JSON.", 400) from None
    if not isinstance(body, dict):
        raise AppError("bad_setting", "Send a JSON object.", 400)
    current = await number_settings.load(instance_id, claims.location_id)
    updated = number_settings.merged(current, body)
    await number_settings.save(instance_id, claims.location_id, updated)
    log.info(
        "number event settings changed (%s)",
        ", ".join(sorted(body)),
        extra={"instance_id": str(instance_id), "location_id": claims.location_id},
    )
    return JSONResponse(updated.view())


routes = [
    Route("/api/instances/{id}/event-settings", get_settings, methods=["GET"]),
    Route("/api/instances/{id}/event-settings", patch_settings, methods=["PATCH"]),
]
