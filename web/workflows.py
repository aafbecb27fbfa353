"""GHL workflow routes: our action "Send WhatsApp message", its number list, trigger subscriptions.

- `POST /workflows/actions/send-message`: GHL's action execution (body `{data, extras, meta}`)
  -> `200 {"status": "queued" | "duplicate", "messageId"}` once stored (the send is a job).
- `GET /workflows/options/numbers?locationId=`: the action's "number to send from" select,
  `{"options": [{"label", "value"}]}` (GHL's External API option source).
- `POST /workflows/triggers/subscription`: a workflow started, changed or stopped using one of
  our triggers -> `200 {"status": "subscribed" | "unsubscribed"}`.

Each checks `Authorization: Bearer $GHL_WORKFLOW_TOKEN` (the header configured on the action
and triggers in the marketplace portal: GHL signs none of these calls). Errors are
`{"error": {"code", "message"}}` with a 4xx; GHL's expected error shape is not documented.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ghl_app.errors import AppError
from ghl_app.ghl import workflow_actions
from ghl_app.ghl.webhooks import WebhookRejected
from ghl_app.models import Instance
from web.errors import error_response
from web.webhooks import read_limited_body

log = logging.getLogger(__name__)

MAX_WORKFLOW_BODY = 64 * 1024


async def _json_body(request: Request) -> Any:
    try:
        body = await read_limited_body(request, MAX_WORKFLOW_BODY)
    except WebhookRejected as exc:
        raise AppError(exc.code, exc.message, exc.status) from None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AppError("malformed_json", "The body is not JSON.", 400) from None


def _authorize(request: Request) -> None:
    settings = request.app.state.settings
    try:
        workflow_actions.check_token(
            settings.ghl_workflow_token, request.headers.get("authorization")
        )
    except AppError as exc:
        log.warning("workflow call refused (%s) from %s", exc.code, request.url.path)
        raise


async def send_message_action(request: Request) -> Response:
    _authorize(request)
    payload = await _json_body(request)
    try:
        action = workflow_actions.parse(payload)
        message, stored = await request.app.state.services.workflow_sends.accept(action)
    except AppError as exc:
        location = payload.get("extras", {}) if isinstance(payload, dict) else {}
        log.warning(
            "workflow action refused: %s",
            exc.message,
            extra={"location_id": str((location or {}).get("locationId") or "")[:64]},
        )
        return error_response(exc.code, exc.message, exc.status)
    return JSONResponse(
        {"status": "queued" if stored else "duplicate", "messageId": str(message.id)}
    )


async def number_options(request: Request) -> Response:
    _authorize(request)
    location_id = (request.query_params.get("locationId") or "").strip()[:64]
    options: list[dict[str, str]] = [
        {"label": "The number that last talked to this contact", "value": workflow_actions.AUTO}
    ]
    if location_id:
        instances = await Instance.filter(location_id=location_id).order_by("created_at")
        for instance in instances:
            label = instance.name
            if instance.phone_number:
                label = f"{instance.name} ({instance.phone_number})"
            options.append({"label": label, "value": str(instance.id)})
    return JSONResponse({"options": options})


async def trigger_subscription(request: Request) -> Response:
    _authorize(request)
    payload = await _json_body(request)
    subscription = await request.app.state.services.workflow_triggers.subscribe(payload)
    return JSONResponse({"status": "subscribed" if subscription else "unsubscribed"})


routes = [
    Route("/workflows/actions/send-message", send_message_action, methods=["POST"]),
    Route("/workflows/options/numbers", number_options, methods=["GET"]),
    Route("/workflows/triggers/subscription", trigger_subscription, methods=["POST"]),
]
