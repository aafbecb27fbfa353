"""Short-lived page tokens: what `/app/sso` hands the iframe, and what `/api/*` and `/ws` accept.

A token is `base64url(json claims).base64url(HMAC-SHA256)`, keyed by a key derived from
APP_SECRET, so a restart keeps tokens valid and another deployment's tokens never are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass

from ghl_app.errors import AppError

DEFAULT_TTL_S = 60 * 60


@dataclass(frozen=True)
class PageClaims:
    location_id: str
    user_id: str
    company_id: str
    role: str
    expires_at: int  # unix seconds
    user_name: str = ""
    email: str = ""
    locale: str = ""
    # "location": the page of one sub-account (every /api/* and /ws); "agency": the agency
    # overview of a company's sub-accounts (/api/agency/* only, location_id empty).
    scope: str = "location"
    # When it was issued: a token issued before its location's latest install is void, so an
    # UNINSTALL (and a later reinstall) ends every earlier page at once (issue 14, Medium 7).
    issued_at: int = 0


def _key(app_secret: str) -> bytes:
    return hashlib.sha256(b"page-token:" + app_secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(
    app_secret: str,
    *,
    location_id: str,
    user_id: str,
    company_id: str,
    role: str,
    user_name: str = "",
    email: str = "",
    locale: str = "",
    ttl_s: int = DEFAULT_TTL_S,
    scope: str = "location",
) -> tuple[str, PageClaims]:
    now = int(time.time())
    claims = PageClaims(
        location_id=location_id,
        user_id=user_id,
        company_id=company_id,
        role=role,
        expires_at=now + ttl_s,
        user_name=user_name,
        email=email,
        locale=locale,
        scope=scope,
        issued_at=now,
    )
    body = _b64(json.dumps(asdict(claims), separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(app_secret), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}", claims


def verify_token(app_secret: str, token: str) -> PageClaims:
    """The token's claims, or `AppError` 401 `invalid_token` / `token_expired`."""
    body, _, signature = token.partition(".")
    if not token.isascii():  # compare_digest raises on non-ASCII text: a 500 before
        raise AppError("invalid_token", "This session token is not valid. Reopen the page.", 401)
    expected = _b64(hmac.new(_key(app_secret), body.encode(), hashlib.sha256).digest())
    if not body or not hmac.compare_digest(signature, expected):
        raise AppError("invalid_token", "This session token is not valid. Reopen the page.", 401)
    try:
        claims = PageClaims(**json.loads(_unb64(body)))
    except (ValueError, TypeError):
        raise AppError(
            "invalid_token", "This session token is not valid. Reopen the page.", 401
        ) from None
    if claims.expires_at <= time.time():
        raise AppError("token_expired", "This session expired. Reopen the page.", 401)
    return claims
