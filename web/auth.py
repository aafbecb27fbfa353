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


def _scoped(claims: PageClaims, scope: str) -> PageClaims:
    if claims.scope != scope or (scope == "location" and not claims.location_id):
        raise AppError("wrong_scope", "This session cannot open that page.", 403)
    return claims


def require_claims(conn: HTTPConnection) -> PageClaims:
    """The caller's claims; every `/api/*` handler starts here and scopes by `location_id`."""
    token = bearer_token(conn)
    if token is None:
        raise AppError("unauthorized", "Sign in through the app page inside GHL.", 401)
    return _scoped(verify_token(conn.app.state.settings.app_secret, token), "location")


def require_admin(claims: PageClaims) -> PageClaims:
    """Unlinking or deleting a number is for the sub-account's admins: GHL's SSO names the
    user's `role` (admin | user) and a plain user gets 403 (issue 14: `role` was never read)."""
    if claims.role != "admin":
        raise AppError("admin_only", "Only an admin of this sub-account can do that.", 403)
    return claims


def require_agency_claims(conn: HTTPConnection) -> PageClaims:
    """An agency user's claims for `/api/agency/*`: scoped by `company_id`."""
    token = bearer_token(conn)
    if token is None:
        raise AppError("unauthorized", "Sign in through the app page inside GHL.", 401)
    claims = _scoped(verify_token(conn.app.state.settings.app_secret, token), "agency")
    if not claims.company_id:
        raise AppError("wrong_scope", "This session names no agency.", 403)
    return claims


def claims_from_query(conn: HTTPConnection) -> PageClaims:
    token = conn.query_params.get("token", "")
    if not token:
        raise AppError("unauthorized", "Missing token.", 401)
    return _scoped(verify_token(conn.app.state.settings.app_secret, token), "location")
