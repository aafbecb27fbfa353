"""Who is calling: the page token from `Authorization: Bearer` (HTTP) or `?token=` (WebSocket)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ghl_app.errors import AppError
from ghl_app.page_tokens import PageClaims, verify_token


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def require_claims(conn: HTTPConnection) -> PageClaims:
    """The caller's claims; every `/api/*` handler starts here and scopes by `location_id`."""
    token = bearer_token(conn)
    if token is None:
        raise AppError("unauthorized", "Sign in through the app page inside GHL.", 401)
    return verify_token(conn.app.state.settings.app_secret, token)


def claims_from_query(conn: HTTPConnection) -> PageClaims:
    token = conn.query_params.get("token", "")
    if not token:
        raise AppError("unauthorized", "Missing token.", 401)
    return verify_token(conn.app.state.settings.app_secret, token)
