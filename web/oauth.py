"""`GET /oauth/install` (to GHL's choose-location page) and `GET /oauth/callback` (code exchange,
install stored, a result page in pt-BR and English)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from tortoise.exceptions import IntegrityError

from ghl_app.crypto import SignatureError
from ghl_app.ghl.http import GhlApiError
from ghl_app.ghl.integration import GhlIntegration
from ghl_app.ghl.oauth import STATE_TTL_SECONDS, install_url, state_signer
from ghl_app.manifest import load_manifest
from ghl_app.models import WebhookReceipt
from ghl_app.settings import Settings

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _page(request: Request, outcome: str, status: int, **context: Any) -> Response:
    return templates.TemplateResponse(
        request,
        "install_result.html",
        {"outcome": outcome, "install_path": "/oauth/install", **context},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


async def oauth_install(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if settings.missing_ghl:
        log.warning("install refused: GHL settings missing (%s)", ", ".join(settings.missing_ghl))
        return _page(request, "not_configured", 503)
    state = state_signer(settings).sign({"n": secrets.token_urlsafe(8)}, STATE_TTL_SECONDS)
    return RedirectResponse(install_url(settings, state), status_code=302)


async def oauth_callback(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    ghl: GhlIntegration = request.app.state.services.ghl_integration
    if settings.missing_ghl:
        log.warning("install callback refused: GHL settings missing")
        return _page(request, "not_configured", 503)
    params = request.query_params
    code = params.get("code")
    if params.get("error") or not code:
        log.info("install not completed: consent denied (%s)", params.get("error") or "no code")
        return _page(request, "denied", 400)
    # GHL may not echo `state` (ghl-api.md): its absence is accepted, a bad one is not.
    # A state we issued is good once (issue 14: it could be reused): its nonce is recorded.
    state = params.get("state")
    if state:
        try:
            nonce = str(state_signer(settings).verify(state).get("n", ""))
        except (SignatureError, ValueError, TypeError) as exc:
            log.warning("install callback refused: state %s", exc)
            return _page(request, "bad_state", 400)
        try:
            await WebhookReceipt.create(
                webhook_id=f"oauth-state:{nonce}"[:128], kind="oauth_state", payload={}
            )
        except IntegrityError:
            log.warning("install callback refused: state already used")
            return _page(request, "bad_state", 400)
    try:
        result = await ghl.installs.complete_oauth(code)
        ghl.tokens.forget()  # new tokens are stored: no cached copy of an older one is used
    except GhlApiError as exc:
        if 400 <= exc.status < 500 and exc.status not in (408, 429):
            log.warning("install failed: GHL refused the code: %s", exc)
            return _page(request, "invalid_code", 400)
        log.warning("install failed: GHL unavailable: %s", exc)
        return _page(request, "ghl_down", 502)
    except Exception:
        log.exception("install failed while storing it")
        return _page(request, "internal", 500)
    log.info(
        "install completed: %s with %d location(s)",
        result.kind,
        len(result.locations),
        extra={"company_id": result.company_id},
    )
    return _page(
        request,
        "installed",
        200,
        result=result,
        app_name=load_manifest().name,
    )


routes = [
    Route("/oauth/install", oauth_install, methods=["GET"]),
    Route(load_manifest().redirect_path, oauth_callback, methods=["GET"]),
]
