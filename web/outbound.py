"""`POST /webhooks/ghl/outbound`: GHL's conversation-provider Delivery URL (a reply typed in GHL).

Verified like every webhook (the provider sends only `X-GHL-Signature`), stored, answered at
once; a job sends it. A delivery we could not persist answers 429, the only status GHL retries.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ghl_app.errors import AppError
from ghl_app.ghl.webhooks import WebhookRejected
from ghl_app.manifest import load_manifest
from web.errors import error_response
from web.webhooks import read_limited_body

log = logging.getLogger(__name__)


async def provider_delivery(request: Request) -> Response:
    services = request.app.state.services
    try:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise WebhookRejected(415, "unsupported_media_type", "send application/json")
        body = await read_limited_body(request)
        services.ghl_integration.verifier.verify(body, request.headers)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected(400, "malformed_json", "the body is not JSON") from None
        if not isinstance(payload, dict):
            raise WebhookRejected(400, "malformed_json", "the body is not a JSON object")
    except WebhookRejected as exc:
        log.warning("provider delivery refused (%d %s): %s", exc.status, exc.code, exc.message)
        return error_response(exc.code, exc.message, exc.status)
    location_id = str(payload.get("locationId") or "")
    try:
        stored = await services.bridge.outbound.accept(payload)
    except AppError as exc:
        log.warning(
            "provider delivery rejected: %s", exc.message, extra={"location_id": location_id}
        )
        return error_response(exc.code, exc.message, exc.status)
    except Exception:
        log.exception("provider delivery not persisted", extra={"location_id": location_id})
        return error_response("retry_later", "Could not store the message; retry.", 429)
    return JSONResponse({"result": "accepted" if stored else "duplicate"})


routes = [Route(load_manifest().provider_delivery_path, provider_delivery, methods=["POST"])]
