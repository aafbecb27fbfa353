"""Turning errors into the contract's JSON shape `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ghl_app.errors import AppError

log = logging.getLogger(__name__)


def error_response(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def app_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if exc.status >= 500:
        log.error("%s %s failed: %s (%s)", request.method, request.url.path, exc.message, exc.code)
    return error_response(exc.code, exc.message, exc.status)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(code, str(exc.detail), exc.status_code)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.error("%s %s raised", request.method, request.url.path, exc_info=exc)
    response = error_response("internal_error", "Something went wrong on our side.", 500)
    # A 500 is answered by Starlette's outermost layer, outside the security-headers
    # middleware: the same headers are set here so no answer goes without them (issue 14).
    from web.page import content_security_policy  # web.page imports this module

    response.headers["content-security-policy"] = content_security_policy(
        request.app.state.settings, page=False
    )
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["referrer-policy"] = "strict-origin-when-cross-origin"
    return response
