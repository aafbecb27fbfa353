"""`POST /webhooks/ghl`: GHL's app events (INSTALL, UNINSTALL). The HTTP checks live here (size,
content type); verification, dedupe and effects in `ghl_app.ghl.webhooks`."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ghl_app.ghl.integration import GhlIntegration
from ghl_app.ghl.webhooks import WebhookRejected
from ghl_app.manifest import load_manifest
from web.errors import error_response
from web.params import parse_id

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refused (413) past `limit` without reading the rest into memory."""
    declared = request.headers.get("content-length")
    size_declared = parse_id(declared) if declared is not None else None
    if size_declared is not None and size_declared > limit:
        raise WebhookRejected(413, "too_large", "the body is larger than 1 MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, "too_large", "the body is larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


async def ghl_app_webhook(request: Request) -> Response:
    ghl: GhlIntegration = request.app.state.services.ghl_integration
    try:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise WebhookRejected(415, "unsupported_media_type", "send application/json")
        body = await read_limited_body(request)
        outcome = await ghl.webhooks.handle(body, request.headers)
    except WebhookRejected as exc:
        if exc.status != 429:  # 429s were logged with their traceback where they happened
            log.warning("GHL webhook refused (%d %s): %s", exc.status, exc.code, exc.message)
        return error_response(exc.code, exc.message, exc.status)
    return JSONResponse({"result": outcome.result}, status_code=outcome.status)


routes = [Route(load_manifest().webhook_path, ghl_app_webhook, methods=["POST"])]
