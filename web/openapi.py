"""`GET /openapi.json`: every HTTP route of the app in OpenAPI 3.1, the integrator API in full.

`tests/api/test_openapi.py` holds it true: each real route is in it and each route in it is
real, the integrator API's real answers validate against it, and schemathesis (CI) fuzzes the
integrator API against it. WebSocket routes, which OpenAPI cannot describe, are listed under
`x-websockets`."""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ghl_app.manifest import load_manifest
from web.openapi_schemas import SCHEMAS

_OBJECT = {"type": "object"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description or "OK", "content": {"application/json": {"schema": schema}}}


def _envelope(key: str, schema: dict[str, Any], *extra: str) -> dict[str, Any]:
    properties = {key: schema, **{name: {"type": ["string", "boolean"]} for name in extra}}
    return {"type": "object", "required": [key, *extra], "properties": properties}


def _op(
    summary: str,
    tag: str,
    *,
    security: str | None,
    ok: tuple[int, dict[str, Any]] = (200, _json(_OBJECT)),
    body: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (400, 401, 404),
    params: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {str(ok[0]): ok[1]}
        | {str(code): _json(_ref("Error"), "Error") for code in errors},
    }
    operation["security"] = [{security: []}] if security else []
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    if params:
        operation["parameters"] = list(params)
    return operation


def _path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


_ID = _path_param("id", {"type": "string"})
_NUMBER_ID = _path_param("id", {"type": "string", "format": "uuid"})
_INT_ID = _path_param("id", {"type": "integer", "minimum": 0})


def _operations() -> dict[str, dict[str, dict[str, Any]]]:
    manifest = load_manifest()
    page, key, workflow = "pageToken", "apiKey", "workflowToken"
    html = (200, {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}})
    no_content = (204, {"description": "Deleted"})
    paths: dict[str, dict[str, dict[str, Any]]] = {
        "/healthz": {"get": _op("Liveness and readiness", "operations", security=None)},
        "/openapi.json": {"get": _op("This document", "operations", security=None, errors=())},
        "/metrics": {
            "get": _op(
                "Prometheus metrics (METRICS_TOKEN)",
                "operations",
                security="metricsToken",
                ok=(200, {"description": "Prometheus text format", "content": {"text/plain": {}}}),
                errors=(401, 503),
            )
        },
        "/app": {"get": _op("The page GHL opens in its iframe", "page", security=None, ok=html)},
        "/app/sso": {
            "post": _op(
                "Exchange GHL's encrypted user context for a page token",
                "page",
                security=None,
                body=_OBJECT,
                errors=(400, 403),
            )
        },
        "/oauth/install": {
            "get": _op(
                "Start an install (redirect to GHL)",
                "install",
                security=None,
                ok=(302, {"description": "Redirect to GHL"}),
                errors=(503,),
            )
        },
        manifest.redirect_path: {
            "get": _op("GHL's OAuth callback", "install", security=None, ok=html, errors=(400,))
        },
        manifest.webhook_path: {
            "post": _op(
                "GHL webhooks (signed)", "ghl", security=None, body=_OBJECT, errors=(400, 401)
            )
        },
        manifest.provider_delivery_path: {
            "post": _op(
                "GHL conversation provider Delivery URL (signed)",
                "ghl",
                security=None,
                body=_OBJECT,
                errors=(400, 401),
            )
        },
        "/workflows/actions/send-message": {
            "post": _op(
                "GHL workflow action: send a WhatsApp message",
                "workflows",
                security=workflow,
                body=_OBJECT,
                errors=(400, 401, 503),
            )
        },
        "/workflows/options/numbers": {
            "get": _op("GHL workflow action: the number choices", "workflows", security=workflow)
        },
        "/workflows/triggers/subscription": {
            "post": _op(
                "GHL workflow trigger subscriptions",
                "workflows",
                security=workflow,
                body=_OBJECT,
                errors=(400, 401, 503),
            )
        },
        "/media/{location_id}/{file_id}/{filename}": {
            "get": _op(
                "A kept inbound file, by signed link",
                "media",
                security=None,
                ok=(200, {"description": "The file", "content": {"application/octet-stream": {}}}),
                errors=(403, 404),
                params=(
                    _path_param("location_id", {"type": "string"}),
                    _path_param("file_id", {"type": "string"}),
                    _path_param("filename", {"type": "string"}),
                ),
            )
        },
        "/api/instances": {
            "get": _op("The location's numbers", "page", security=page),
            "post": _op(
                "Add a number", "page", security=page, body=_OBJECT, ok=(201, _json(_OBJECT))
            ),
        },
        "/api/instances/{id}": {
            "get": _op("One number", "page", security=page, params=(_ID,)),
            "patch": _op("Rename a number", "page", security=page, body=_OBJECT, params=(_ID,)),
            "delete": _op(
                "Delete a number (admins)",
                "page",
                security=page,
                ok=no_content,
                errors=(401, 403, 404),
                params=(_ID,),
            ),
        },
        "/api/instances/{id}/start": {
            "post": _op("Start a number (QR or pairing code)", "page", security=page, params=(_ID,))
        },
        "/api/instances/{id}/stop": {
            "post": _op("Stop a number", "page", security=page, params=(_ID,))
        },
        "/api/instances/{id}/logout": {
            "post": _op("Unlink a number (admins)", "page", security=page, params=(_ID,))
        },
        "/api/instances/{id}/qr": {
            "get": _op("The current QR code", "page", security=page, params=(_ID,))
        },
        "/api/instances/{id}/messages": {
            "get": _op("A number's recent messages", "page", security=page, params=(_ID,))
        },
        "/api/instances/{id}/settings": {
            "patch": _op("A number's settings", "page", security=page, body=_OBJECT, params=(_ID,))
        },
        "/api/instances/{id}/event-settings": {
            "get": _op("A number's event settings", "page", security=page, params=(_ID,)),
            "patch": _op(
                "Change a number's event settings (admins): notes language, calls, ignore list",
                "page",
                security=page,
                body=_OBJECT,
                params=(_ID,),
            ),
        },
        "/api/jobs": {"get": _op("The location's jobs", "page", security=page)},
        "/api/jobs/{id}/retry": {
            "post": _op("Retry a failed job", "page", security=page, params=(_ID,))
        },
        "/api/keys": {
            "get": _op("The location's API keys", "page", security=page),
            "post": _op(
                "Create an API key (shown once; admins)",
                "page",
                security=page,
                body=_OBJECT,
                ok=(201, _json(_OBJECT)),
            ),
        },
        "/api/keys/{id}": {
            "delete": _op("Revoke an API key (admins)", "page", security=page, params=(_ID,))
        },
        "/api/agency/overview": {
            "get": _op("Every sub-account of the agency", "agency", security=page)
        },
        "/api/agency/alerts": {
            "get": _op("The agency's alert settings", "agency", security=page),
            "put": _op("Set the agency's alerts", "agency", security=page, body=_OBJECT),
            "delete": _op("Turn the agency's alerts off", "agency", security=page),
        },
        # -- the integrator API, in full --
        "/api/v1/numbers": {
            "get": _op(
                "The location's WhatsApp numbers",
                "integrators",
                security=key,
                ok=(200, _json(_envelope("numbers", {"type": "array", "items": _ref("Number")}))),
                errors=(401,),
            )
        },
        "/api/v1/numbers/{id}/messages": {
            "post": _op(
                "Send a text or a file through a number (Idempotency-Key honoured)",
                "integrators",
                security=key,
                body=_ref("SendMessage"),
                ok=(202, _json(_envelope("message", _ref("Message"), "duplicate"))),
                errors=(400, 401, 404, 409, 413),
                params=(
                    _NUMBER_ID,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 100},
                    },
                ),
            )
        },
        "/api/v1/messages/{id}": {
            "get": _op(
                "A message and where it is in its journey",
                "integrators",
                security=key,
                ok=(200, _json(_envelope("message", _ref("Message")))),
                errors=(401, 404),
                params=(_INT_ID,),
            )
        },
        "/api/v1/webhooks": {
            "get": _op(
                "The location's event webhooks",
                "integrators",
                security=key,
                ok=(200, _json(_envelope("webhooks", {"type": "array", "items": _ref("Webhook")}))),
                errors=(401,),
            ),
            "post": _op(
                "Register an event webhook (its signing secret is shown once)",
                "integrators",
                security=key,
                body=_ref("NewWebhook"),
                ok=(201, _json(_envelope("webhook", _ref("Webhook"), "secret"))),
                errors=(400, 401, 409, 413),
            ),
        },
        "/api/v1/webhooks/{id}": {
            "delete": _op(
                "Remove an event webhook",
                "integrators",
                security=key,
                ok=(200, _json(_envelope("deleted", {"type": "boolean"}))),
                errors=(401, 404),
                params=(_INT_ID,),
            )
        },
    }
    return paths


@cache
def document() -> dict[str, Any]:
    bearer = {"type": "http", "scheme": "bearer"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "WhatsApp for GoHighLevel",
            "version": "1",
            "description": (
                "Integrators use `/api/v1/*` with an API key made in the app's page "
                "(`Authorization: Bearer gwa_…`). Events arrive as webhooks signed "
                '`X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, or live on the '
                'WebSocket `/api/v1/events`. Every error is `{"error": {"code", "message"}}`.'
            ),
        },
        "paths": _operations(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiKey": bearer | {"description": "An integrator API key (gwa_…)"},
                "pageToken": bearer | {"description": "The page's token from /app/sso"},
                "workflowToken": bearer | {"description": "GHL_WORKFLOW_TOKEN"},
                "metricsToken": bearer | {"description": "METRICS_TOKEN"},
            },
        },
        "x-websockets": {
            "/ws": "the page's live socket (page token in ?token=)",
            "/api/v1/events": "every event of the key's location, live (API key header)",
        },
    }


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(document())


routes = [Route("/openapi.json", openapi, methods=["GET"])]
