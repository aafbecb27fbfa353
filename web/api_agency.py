"""The agency overview and the agency's disconnect-alert settings (agency-scoped page token,
from `/app/sso` for an agency user; every query is scoped by the token's company).

- `GET /api/agency/overview?filter=all|disconnected|failed` -> `{"locations": [...]}`
- `GET /api/agency/alerts` -> `{"alerts": {"url", "grace_seconds"} | null}`
- `PUT /api/agency/alerts` `{"url", "grace_seconds"?}` -> `{"alerts", "secret"?}` (a new
  secret is shown once, when alerts are first set or `rotate_secret` is true)
- `DELETE /api/agency/alerts` -> `{"alerts": null}`
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ghl_app import agency
from ghl_app.errors import AppError
from ghl_app.ghl.webhooks import WebhookRejected
from ghl_app.models import AgencyAlerts
from web.auth import require_agency_claims
from web.webhooks import read_limited_body

log = logging.getLogger(__name__)


def _view(row: AgencyAlerts | None) -> dict[str, Any] | None:
    return None if row is None else {"url": row.url, "grace_seconds": row.grace_seconds}


async def get_overview(request: Request) -> JSONResponse:
    claims = require_agency_claims(request)
    only = request.query_params.get("filter", "all")
    if only not in agency.FILTERS:
        raise AppError("bad_filter", "filter is all, disconnected or failed.", 400)
    return JSONResponse({"locations": await agency.overview(claims.company_id, only)})


async def get_alerts(request: Request) -> JSONResponse:
    claims = require_agency_claims(request)
    row = await AgencyAlerts.get_or_none(company_id=claims.company_id)
    return JSONResponse({"alerts": _view(row)})


async def put_alerts(request: Request) -> JSONResponse:
    claims = require_agency_claims(request)
    if claims.role and claims.role != "admin":
        raise AppError("forbidden", "Only an agency admin can set alerts.", 403)
    try:
        body = json.loads(await read_limited_body(request, 16 * 1024))
    except WebhookRejected as exc:
        raise AppError(exc.code, exc.message, exc.status) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AppError("malformed_json", "The body is not JSON.", 400) from None
    if not isinstance(body, dict):
        raise AppError("malformed_json", "The body is not a JSON object.", 400)
    raw_url, grace = body.get("url"), body.get("grace_seconds", 300)
    url = raw_url if isinstance(raw_url, str) else ""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AppError("bad_url", "url must be an http(s) URL.", 400)
    if len(url) > 2048 or parts.username or parts.password:
        raise AppError("bad_url", "url is too long or carries credentials.", 400)
    if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace <= 86_400:
        raise AppError("bad_grace", "grace_seconds is a whole number from 0 to 86400.", 400)
    cipher = request.app.state.services.ghl_integration.cipher
    row = await AgencyAlerts.get_or_none(company_id=claims.company_id)
    secret = None
    if row is None or body.get("rotate_secret") is True:
        secret = f"whsec_{secrets.token_urlsafe(32)}"
    if row is None:
        assert secret is not None
        row = await AgencyAlerts.create(
            company_id=claims.company_id,
            url=url,
            secret_enc=cipher.encrypt(secret),
            grace_seconds=grace,
        )
    else:
        row.url, row.grace_seconds = url, grace
        if secret is not None:
            row.secret_enc = cipher.encrypt(secret)
        await row.save()
    log.info("agency alerts set", extra={"company_id": claims.company_id})
    answer: dict[str, Any] = {"alerts": _view(row)}
    if secret is not None:
        answer["secret"] = secret
    return JSONResponse(answer)


async def delete_alerts(request: Request) -> JSONResponse:
    claims = require_agency_claims(request)
    if claims.role and claims.role != "admin":
        raise AppError("forbidden", "Only an agency admin can set alerts.", 403)
    await AgencyAlerts.filter(company_id=claims.company_id).delete()
    return JSONResponse({"alerts": None})


routes = [
    Route("/api/agency/overview", get_overview, methods=["GET"]),
    Route("/api/agency/alerts", get_alerts, methods=["GET"]),
    Route("/api/agency/alerts", put_alerts, methods=["PUT"]),
    Route("/api/agency/alerts", delete_alerts, methods=["DELETE"]),
]
