"""`GET /metrics`: Prometheus text format, for `Authorization: Bearer $METRICS_TOKEN` only.

Without METRICS_TOKEN the route answers 503 (metrics are off): the figures name locations and
instances, so they are never public.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghl_app.metrics import CONTENT_TYPE
from web.errors import error_response

log = logging.getLogger(__name__)


async def metrics(request: Request) -> Response:
    expected: str = request.app.state.settings.metrics_token
    if not expected:
        return error_response("metrics_off", "Set METRICS_TOKEN to turn /metrics on.", 503)
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
        log.warning("metrics scrape refused: bad token")
        return error_response("unauthorized", "A valid metrics token is required.", 401)
    body = await request.app.state.services.metrics.render()
    return Response(body, media_type=CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
