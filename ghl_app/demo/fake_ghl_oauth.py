"""The OAuth / marketplace side of the fake GoHighLevel (ghl_app/demo/fake_ghl.py).

`OAuthFake` adds, on top of the guard in fake_ghl_guard.py:

- the marketplace choose-location page (`/v2/oauth/chooselocation`), answering with the consent
  the test prepared: a location, an agency with locations, or a denial;
- form-encoded `/oauth/token` calls, single-use authorization codes, single-use rotating
  refresh tokens, and answers that can be lost after the rotation;
- `/oauth/locationToken` and `/oauth/installedLocations` for agency tokens;
- the grants bookkeeping (codes, access and refresh tokens, installed locations) and the token
  bodies as GHL writes them.

The routes themselves are listed by `FakeGhl._routes`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ghl_app.demo.fake_ghl_guard import CLIENT_ID, CLIENT_SECRET, Grant, GuardedFake, RecordedCall


@dataclass
class _Consent:
    grant: Grant | None  # None = the user denied
    locations: list[tuple[str, str]] = field(default_factory=list)


class OAuthFake(GuardedFake):
    """Consent, token issue and rotation, agency location tokens and installed locations."""

    def __init__(
        self,
        *,
        rate_limit: tuple[int, float],
        access_ttl: int,
        location_tokens_have_refresh: bool,
        hang_seconds: float,
        seed: int,
    ) -> None:
        super().__init__(rate_limit=rate_limit, hang_seconds=hang_seconds, seed=seed)
        self.access_ttl = access_ttl
        self.location_tokens_have_refresh = location_tokens_have_refresh
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.used_refresh_tokens: set[str] = set()
        self.installed: dict[str, list[tuple[str, str]]] = {}  # company -> [(location, name)]
        self._consent: _Consent | None = None
        self._lose_refresh = 0
        # Agencies that chose "install to future locations" (`installToFutureLocations` in their
        # token body, apps/oauth.json).
        self.future_locations: set[str] = set()
        # Unknown in GHL's docs, so both are offered (the code handles both):
        # - a refused refresh in the OAuth standard's shape ("oauth": 400 invalid_grant) or in
        #   the spec's (apps/oauth.json: 401 UnauthorizedDTO {statusCode, message, error});
        # - installedLocations pages of the `limit` asked for, or capped lower by GHL (the spec's
        #   default is 20, its maximum undocumented).
        self.token_error_shape = "oauth"
        self.installed_page_cap: int | None = None

    # -- test set-up ---------------------------------------------------------------------------

    def consent_location(self, location_id: str, company_id: str) -> None:
        """The next visit to the choose-location page installs this location."""
        self._consent = _Consent(Grant("Location", company_id, location_id))

    def consent_company(self, company_id: str, locations: list[tuple[str, str]]) -> None:
        """The next visit installs the agency, with these (location id, name) sub-accounts."""
        self.installed[company_id] = list(locations)
        self._consent = _Consent(Grant("Company", company_id), list(locations))

    def deny_consent(self) -> None:
        self._consent = _Consent(None)

    def issue_code(self, grant: Grant) -> str:
        code = self._id("code-")
        self.codes[code] = grant
        if grant.user_type == "Company":
            self.installed.setdefault(grant.company_id, [])
        return code

    def issue_tokens(self, grant: Grant, *, expires_in: float | None = None) -> dict[str, Any]:
        """A token pair as `/oauth/token` would answer it (also for seeding the database)."""
        access = self._id("at-")
        refresh = self._id("rt-")
        ttl = self.access_ttl if expires_in is None else expires_in
        self.access_tokens[access] = (grant, time.time() + ttl)
        self.refresh_tokens[refresh] = grant
        return self._token_body(grant, access, refresh, ttl)

    def expire(self, access_token: str) -> None:
        grant, _ = self.access_tokens[access_token]
        self.access_tokens[access_token] = (grant, time.time() - 1)

    def lose_refresh_answers(self, count: int = 1) -> None:
        """The next `count` refreshes rotate the token, then never answer (lost response)."""
        self._lose_refresh = count

    def _token_body(
        self, grant: Grant, access: str, refresh: str | None, ttl: float
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(ttl),
            "scope": "contacts.write conversations.write",
            "userType": grant.user_type,
            "companyId": grant.company_id,
            "userId": "user-1",
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        if grant.location_id is not None:
            body["locationId"] = grant.location_id
        if grant.user_type == "Company":
            body["isBulkInstallation"] = True
            body["installToFutureLocations"] = grant.company_id in self.future_locations
        return body

    # -- marketplace ---------------------------------------------------------------------------

    async def _choose_location(self, request: Request) -> Response:
        call = await self._record(request)
        query = call.query
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return self._answer(call, {"message": "unknown app"}, 400)
        consent, self._consent = self._consent, None
        params: dict[str, str] = {}
        if consent is None or consent.grant is None:
            params["error"] = "access_denied"
        else:
            params["code"] = self.issue_code(consent.grant)
        if "state" in query:
            params["state"] = query["state"]
        call.status = 302
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode(params)}", status_code=302)

    # -- oauth ---------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        call = await self._record(request)
        failed = await self._fault(call)
        if failed is not None:
            return failed
        form = call.form
        if form is None:
            return self._answer(
                call, {"error": "invalid_request", "error_description": "form-encoded only"}, 400
            )
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._answer(call, {"error": "invalid_client"}, 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None:
                return self._invalid_grant(call, "Invalid code")
            return self._answer(call, self.issue_tokens(grant))
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            grant = self.refresh_tokens.pop(token, None)
            if grant is None:
                return self._invalid_grant(call, "Invalid refresh token")
            self.used_refresh_tokens.add(token)
            body = self.issue_tokens(grant)
            if self._lose_refresh > 0:
                self._lose_refresh -= 1
                call.status = -1
                await asyncio.sleep(self.hang_seconds)  # rotated, but the answer never arrives
                return Response(status_code=504)
            return self._answer(call, body)
        return self._answer(call, {"error": "unsupported_grant_type"}, 400)

    def _invalid_grant(self, call: RecordedCall, description: str) -> Response:
        if self.token_error_shape == "spec":
            body = {"statusCode": 401, "message": description, "error": "Unauthorized"}
            return self._answer(call, body, 401)
        return self._answer(call, {"error": "invalid_grant", "error_description": description}, 400)

    async def _location_token(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request, "Company")
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        form = call.form or {}
        company_id, location_id = form.get("companyId"), form.get("locationId")
        installed = [loc for loc, _ in self.installed.get(grant.company_id, [])]
        if company_id != grant.company_id or location_id not in installed:
            return self._ok(call, {"statusCode": 400, "message": "Location not installed"}, 400)
        issued = self.issue_tokens(Grant("Location", grant.company_id, location_id))
        if not self.location_tokens_have_refresh:
            self.refresh_tokens.pop(issued.pop("refresh_token"))
        issued["userType"] = "Location"
        issued.pop("isBulkInstallation", None)
        return self._ok(call, issued)

    async def _installed_locations(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request, "Company")
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        q = call.query
        if q.get("companyId") != grant.company_id or q.get("appId") != CLIENT_ID.split("-")[0]:
            return self._ok(call, {"statusCode": 400, "message": "bad companyId or appId"}, 400)
        everything = self.installed.get(grant.company_id, [])
        skip, limit = int(q.get("skip", 0)), int(q.get("limit", 20))
        if self.installed_page_cap is not None:
            limit = min(limit, self.installed_page_cap)
        page = everything[skip : skip + limit]
        # InstalledLocationSchema: _id, name, address (required), isInstalled, versionId.
        locations = [
            {"_id": loc, "name": name, "address": "", "isInstalled": True, "versionId": "v1"}
            for loc, name in page
        ]
        return self._ok(call, {"locations": locations, "count": len(everything)})
