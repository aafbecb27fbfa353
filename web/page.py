"""The instances page GHL shows in an iframe: `GET /app`, the SSO exchange `POST /app/sso`, its
static files, and the security headers that let GHL (and only GHL) frame it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ghl_app.errors import AppError
from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from ghl_app.sso import (
    NotInstalledError,
    authorised_location,
    decrypt_payload,
    installed_locations,
    parse_user,
)
from web import i18n

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

# GHL serves custom pages from these (ghl-api.md); white-label domains come from FRAME_ANCESTORS.
GHL_FRAME_ANCESTORS = ("'self'", "https://*.gohighlevel.com", "https://*.leadconnectorhq.com")
MAX_SSO_BODY = 32_768


def frame_ancestors(settings: Settings) -> str:
    return " ".join((*GHL_FRAME_ANCESTORS, *settings.frame_ancestors))


def content_security_policy(settings: Settings, *, page: bool) -> str:
    """The page gets a strict policy (own scripts and styles only); every other response at
    least says who may frame it, without restricting HTML pages other modules render."""
    directives = [f"frame-ancestors {frame_ancestors(settings)}", "base-uri 'self'"]
    if page:
        directives = [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "form-action 'self'",
            *directives,
        ]
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    """Adds the CSP (unless a route set its own), nosniff and a referrer policy to every response.

    Deliberately no `X-Frame-Options`: its only values (DENY, SAMEORIGIN) would stop GHL from
    showing the page at all; `frame-ancestors` is the modern, precise replacement.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.policy = content_security_policy(settings, page=False).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", self.policy))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_url(settings: Settings) -> str:
    return f"{settings.public_url}/oauth/install"


async def app_page(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    locale = i18n.choose_locale(
        request.query_params.get("lang"), request.headers.get("accept-language", "")
    )
    config = {
        "locale": locale,
        "catalogues": i18n.all_catalogues(),
        "install_url": install_url(settings),
        # `POST /api/instances/{id}/start {"phone"}` answers with a `pairing_code`.
        "pairing": True,
    }
    response = templates.TemplateResponse(
        request,
        "app.html",
        {
            "locale": locale,
            "t": i18n.catalogue(locale),
            "demo": settings.demo,
            # Read by app.js; a JSON data block is not executed, so the strict CSP allows it.
            "config_json": json.dumps(config).replace("</", "<\\/"),
        },
    )
    response.headers["content-security-policy"] = content_security_policy(settings, page=True)
    response.headers["cache-control"] = "no-store"
    return response


async def _sso_body(request: Request) -> tuple[str, str | None]:
    body = await request.body()
    if len(body) > MAX_SSO_BODY:
        raise AppError("invalid_payload", "The sign-in data is too large.", 400)
    try:
        data: Any = json.loads(body or b"{}")
    except ValueError:
        raise AppError("invalid_payload", "Send a JSON body with a payload.", 400) from None
    if not isinstance(data, dict) or not isinstance(data.get("payload"), str):
        raise AppError("invalid_payload", "Send a JSON body with a payload.", 400)
    location_id = data.get("location_id")
    if location_id is not None and not isinstance(location_id, str):
        raise AppError("invalid_payload", "location_id must be a string.", 400)
    return data["payload"], location_id or None


async def sso(request: Request) -> Response:
    """Exchange GHL's encrypted user context for a page token scoped to one installed location."""
    settings: Settings = request.app.state.settings
    payload, requested = await _sso_body(request)
    user = parse_user(decrypt_payload(settings.ghl_shared_secret, payload))
    try:
        location = await authorised_location(user, requested)
    except NotInstalledError as exc:
        log.info(
            "sso refused: location not installed",
            extra={"location_id": requested or user.active_location},
        )
        return JSONResponse(
            {
                "error": {
                    "code": exc.code,
                    "message": exc.message,
                    "install_url": install_url(settings),
                }
            },
            status_code=exc.status,
        )
    if location is None:
        # An agency user outside any sub-account: offer their company's installed locations.
        choices = await installed_locations(user.company_id)
        if not choices:
            return JSONResponse(
                {
                    "error": {
                        "code": "not_installed",
                        "message": "None of your sub-accounts has installed the app yet.",
                        "install_url": install_url(settings),
                    }
                },
                status_code=403,
            )
        # And a token for the agency overview of those sub-accounts (agency scope: it opens
        # no sub-account's page by itself).
        agency_token, agency_claims = issue_token(
            settings.app_secret,
            location_id="",
            user_id=user.user_id,
            company_id=user.company_id,
            role=user.role,
            user_name=user.user_name,
            email=user.email,
            locale=user.locale,
            scope="agency",
        )
        return JSONResponse(
            {
                "choose_location": True,
                "locations": [{"id": row.location_id, "name": row.name} for row in choices],
                "user": user.public(),
                "agency_token": agency_token,
                "agency_expires_at": datetime.fromtimestamp(
                    agency_claims.expires_at, UTC
                ).isoformat(),
            }
        )
    token, claims = issue_token(
        settings.app_secret,
        location_id=location.location_id,
        user_id=user.user_id,
        company_id=user.company_id,
        role=user.role,
        user_name=user.user_name,
        email=user.email,
        locale=user.locale,
    )
    log.info("sso: page token issued", extra={"location_id": location.location_id})
    return JSONResponse(
        {
            "token": token,
            "expires_at": datetime.fromtimestamp(claims.expires_at, UTC).isoformat(),
            "location_id": location.location_id,
            "location": {
                "id": location.location_id,
                "name": location.name,
                "needs_reinstall": location.needs_reinstall,
            },
            "user": user.public(),
        }
    )


routes = [
    Route("/app", app_page, methods=["GET"]),
    Route("/app/sso", sso, methods=["POST"]),
    Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
]
