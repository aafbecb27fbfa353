"""GHL's OAuth endpoints: the choose-location URL, the signed `state`, code exchange, refresh,
minting a location token from an agency token, and listing an agency's installed locations.

Token calls are form-encoded and go to `GHL_API_URL` (ghl-api.md "OAuth").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from ghl_app.crypto import Signer
from ghl_app.ghl.http import GhlApiError, GhlHttp
from ghl_app.manifest import load_manifest
from ghl_app.settings import Settings

# The /v2 path is the current one; the older path without /v2 still works (ghl-api.md).
CHOOSE_LOCATION_PATH = "/v2/oauth/chooselocation"
STATE_TTL_SECONDS = 15 * 60
INSTALLED_LOCATIONS_PAGE = 100


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scopes: str
    user_type: str  # "Location" or "Company"
    company_id: str | None
    location_id: str | None
    user_id: str | None
    install_to_future: bool = False

    @classmethod
    def from_response(cls, body: dict[str, Any], *, now: datetime | None = None) -> TokenGrant:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise GhlApiError(
                502, "GHL answered a token call without an access token", "bad_response"
            )
        try:
            lifetime = float(body.get("expires_in") or 86399)
        except (TypeError, ValueError):
            lifetime = 86399.0
        refresh = body.get("refresh_token")
        return cls(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=(now or datetime.now(UTC)) + timedelta(seconds=lifetime),
            scopes=str(body.get("scope") or ""),
            user_type="Company" if body.get("userType") == "Company" else "Location",
            company_id=_opt_str(body.get("companyId")),
            location_id=_opt_str(body.get("locationId")),
            user_id=_opt_str(body.get("userId")),
            install_to_future=body.get("installToFutureLocations") is True,
        )


def _opt_str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class InstalledLocation:
    location_id: str
    name: str


def state_signer(settings: Settings) -> Signer:
    return Signer(settings.app_secret, "oauth-state")


def install_url(settings: Settings, state: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "redirect_uri": settings.oauth_redirect_uri,
            "client_id": settings.ghl_client_id,
            "scope": " ".join(load_manifest().scopes),
            "state": state,
        }
    )
    return f"{settings.ghl_marketplace_url}{CHOOSE_LOCATION_PATH}?{query}"


def is_dead_grant(error: GhlApiError) -> bool:
    """A refresh refused for good (the refresh token or the install behind it is gone): retrying
    cannot help.

    GHL's answer is not pinned down: the OAuth standard's `{"error": "invalid_grant"}`, or the
    spec's own error bodies (apps/oauth.json: 400 `BadRequestDTO {statusCode, message}`, 401
    `UnauthorizedDTO {statusCode, message, error: "Unauthorized"}`, 422 with a message list).
    Both are recognised. A refusal naming the client is our app's credentials (a setting to fix),
    not this grant, and is never taken for a dead grant.
    """
    if error.code == "invalid_grant":
        return True
    if error.status not in (400, 401, 422):
        return False
    text = error.message.lower()
    if "client" in text or error.code in ("invalid_client", "unauthorized_client"):
        return False
    # ghl-api.md "Common problems": a deleted or paused sub-account refuses refresh "not active".
    return any(
        word in text
        for word in ("not active", "refresh token", "grant", "expired", "revoked", "invalid token")
    )


class OAuthApi:
    def __init__(self, http: GhlHttp, settings: Settings) -> None:
        self._http = http
        self._settings = settings

    def _client_form(self) -> dict[str, str]:
        return {
            "client_id": self._settings.ghl_client_id,
            "client_secret": self._settings.ghl_client_secret,
        }

    async def exchange_code(self, code: str) -> TokenGrant:
        # Not retried on a lost answer: a code is single-use, the user starts the install again.
        body = await self._http.request(
            "POST",
            "/oauth/token",
            limit_key=None,
            bearer=None,
            retry_safe=False,
            data={
                **self._client_form(),
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self._settings.oauth_redirect_uri,
            },
        )
        return TokenGrant.from_response(body)

    async def refresh(self, refresh_token: str, *, user_type: str, limit_key: str) -> TokenGrant:
        # Never retried here: GHL rotates the refresh token, so a repeat is a decision of the
        # token manager (tokens.py), which knows how to recover a lost answer.
        body = await self._http.request(
            "POST",
            "/oauth/token",
            limit_key=limit_key,
            bearer=None,
            retry_safe=False,
            data={
                **self._client_form(),
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "user_type": user_type,
            },
        )
        return TokenGrant.from_response(body)

    async def location_token(
        self, company_token: str, *, company_id: str, location_id: str
    ) -> TokenGrant:
        body = await self._http.request(
            "POST",
            "/oauth/locationToken",
            limit_key=f"company:{company_id}",
            bearer=company_token,
            retry_safe=True,  # minting again only yields another valid token
            data={"companyId": company_id, "locationId": location_id},
        )
        grant = TokenGrant.from_response(body)
        # A minted token is a location token whatever the response says about its user.
        return TokenGrant(
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at,
            scopes=grant.scopes,
            user_type="Location",
            company_id=grant.company_id or company_id,
            location_id=grant.location_id or location_id,
            user_id=grant.user_id,
        )

    async def installed_locations(
        self, company_token: str, *, company_id: str
    ) -> list[InstalledLocation]:
        found: list[InstalledLocation] = []
        skip = 0
        while True:
            body = await self._http.request(
                "GET",
                "/oauth/installedLocations",
                limit_key=f"company:{company_id}",
                bearer=company_token,
                retry_safe=True,
                params={
                    "companyId": company_id,
                    "appId": self._settings.app_id,
                    "isInstalled": "true",
                    "skip": skip,
                    "limit": INSTALLED_LOCATIONS_PAGE,
                },
            )
            page = body.get("locations") or []
            for item in page:
                if isinstance(item, dict) and item.get("_id") and item.get("isInstalled", True):
                    found.append(InstalledLocation(str(item["_id"]), str(item.get("name") or "")))
            skip += len(page)
            total = body.get("count")
            # `count` is the total (spec: "Total location count under the company"); GHL may
            # cap a page below the limit asked for, so only `count` or an empty page ends it.
            if not page or (isinstance(total, int) and skip >= total):
                return found
            if not isinstance(total, int) and len(page) < INSTALLED_LOCATIONS_PAGE:
                return found
