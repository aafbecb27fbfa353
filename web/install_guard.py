"""Page requests (`/api/*` with a page token) of a location that uninstalled get 401 at once.

An ASGI middleware so no handler can forget it; the integrator API (`/api/v1/*`, API keys)
checks in its own key verification."""

from __future__ import annotations

import logging

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ghl_app.errors import AppError
from ghl_app.installed import require_installed
from ghl_app.page_tokens import verify_token
from web.auth import bearer_token

log = logging.getLogger(__name__)


class InstalledGuard:
    def __init__(self, app: ASGIApp, app_secret: str) -> None:
        self.app = app
        self.app_secret = app_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path.startswith("/api/v1/"):
            await self.app(scope, receive, send)
            return
        token = bearer_token(HTTPConnection(scope))
        if token is not None:
            try:
                claims = verify_token(self.app_secret, token)
            except AppError:
                claims = None  # the route's own check answers with the precise error
            if claims is not None:
                try:
                    await require_installed(claims)
                except AppError as exc:
                    log.info(
                        "page request refused: %s",
                        exc.code,
                        extra={"location_id": claims.location_id},
                    )
                    response = JSONResponse(
                        {"error": {"code": exc.code, "message": exc.message}},
                        status_code=exc.status,
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
