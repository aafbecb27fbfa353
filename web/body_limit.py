"""Every request body is capped before it is read (issue 14, finding 3): a declared
Content-Length over the cap is answered 413 at once, and a chunked or lying body is counted as it
streams in, so no route ever holds more than the cap in memory. Our bodies are small JSON (GHL
webhooks, SSO payloads, settings); 1 MiB leaves ample room."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ghl_app.errors import AppError
from web.errors import error_response

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


class BodyTooLarge(AppError):
    def __init__(self, limit: int) -> None:
        super().__init__("body_too_large", f"The request body is over {limit // 1024} KiB.", 413)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                too_big = False  # uvicorn refuses a malformed Content-Length itself
            if too_big:
                log.warning("body refused: %s bytes declared on %s", declared, scope["path"])
                response = error_response("body_too_large", BodyTooLarge(self.limit).message, 413)
                await response(scope, receive, send)
                return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    log.warning(
                        "body refused: over %s bytes streamed to %s", self.limit, scope["path"]
                    )
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, capped, send)
