"""A fake GoHighLevel on 127.0.0.1 (a Starlette app under uvicorn, real sockets) that enforces
what the real one does (shared/docs/ghl-api.md):

- the marketplace choose-location page (`/v2/oauth/chooselocation`), answering with the consent
  the test prepared: a location, an agency with locations, or a denial;
- form-encoded token calls, single-use authorization codes, single-use rotating refresh tokens;
- `/oauth/locationToken` and `/oauth/installedLocations` for agency tokens;
- the `Version` header each path wants (400 without it), bearer tokens that expire (401);
- a burst limit per resource (location or company): 429 with `Retry-After` and `X-RateLimit-*`;
- contacts upsert + duplicate search, conversation search/create, inbound message, message
  status, attachment upload.

Every call is recorded (`fake.calls`, `fake.calls_to(path)`) and failures can be injected
(`fake.inject(...)`, `fake.lose_refresh_answers(...)`).

    async with run_fake_ghl() as fake:
        settings = test_settings(dir, GHL_API_URL=fake.url, GHL_MARKETPLACE_URL=fake.url)
        fake.consent_location("loc-1", "co-1")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from support.app_server import free_port

CLIENT_ID = "6650f0e1a2b3c4d5e6f70819-lx0abcd"  # the one test_settings uses
CLIENT_SECRET = "client-secret"
VERSION_CONVERSATIONS = "2021-04-15"
VERSION_DEFAULT = "2021-07-28"


@dataclass
class RecordedCall:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] | None
    json: Any
    resource: str | None = None  # the location or company whose budget the call used
    status: int = 0
    rate_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Grant:
    """Who a token speaks for."""

    user_type: str  # "Location" or "Company"
    company_id: str
    location_id: str | None = None


@dataclass
class _Fault:
    path_prefix: str
    method: str | None
    status: int | None  # None = hang (the client times out)
    rate: float
    times: int | None


@dataclass
class _Consent:
    grant: Grant | None  # None = the user denied
    locations: list[tuple[str, str]] = field(default_factory=list)


class FakeGhl:
    def __init__(
        self,
        *,
        rate_limit: tuple[int, float] = (100, 10.0),
        access_ttl: int = 86399,
        location_tokens_have_refresh: bool = False,
        hang_seconds: float = 3.0,
        seed: int = 7,
    ) -> None:
        self.url = ""
        self.rate_limit = rate_limit
        self.access_ttl = access_ttl
        self.location_tokens_have_refresh = location_tokens_have_refresh
        self.hang_seconds = hang_seconds
        self.calls: list[RecordedCall] = []
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[Grant, float]] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.used_refresh_tokens: set[str] = set()
        self.installed: dict[str, list[tuple[str, str]]] = {}  # company -> [(location, name)]
        self.contacts: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.uploads: list[dict[str, Any]] = []
        # Files GHL hosts (attachments of replies typed in GHL): name -> (bytes, content type).
        self.files: dict[str, tuple[bytes, str]] = {}
        self._consent: _Consent | None = None
        self._faults: list[_Fault] = []
        self._lose_refresh = 0
        self._windows: dict[str, deque[float]] = {}
        self._ids = itertools.count(1)
        self._random = random.Random(seed)
        self.app = Starlette(routes=self._routes())

    # -- test set-up ---------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):05d}"

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

    def inject(
        self,
        path_prefix: str,
        *,
        status: int | None = 500,
        rate: float = 1.0,
        times: int | None = None,
        method: str | None = None,
    ) -> None:
        """Calls under `path_prefix` fail with `status` (None: hang past the client's timeout)
        with probability `rate`, at most `times` times."""
        self._faults.append(_Fault(path_prefix, method, status, rate, times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def lose_refresh_answers(self, count: int = 1) -> None:
        """The next `count` refreshes rotate the token, then never answer (lost response)."""
        self._lose_refresh = count

    def calls_to(self, path: str, method: str | None = None) -> list[RecordedCall]:
        return [c for c in self.calls if c.path == path and (method is None or c.method == method)]

    # -- plumbing --------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        return [
            Route("/v2/oauth/chooselocation", self._choose_location, methods=["GET"]),
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/files/{name}", self._file, methods=["GET"]),
            Route("/oauth/locationToken", self._location_token, methods=["POST"]),
            Route("/oauth/installedLocations", self._installed_locations, methods=["GET"]),
            Route("/contacts/upsert", self._upsert_contact, methods=["POST"]),
            Route("/contacts/search/duplicate", self._duplicate_contact, methods=["GET"]),
            Route("/conversations/search", self._search_conversations, methods=["GET"]),
            Route("/conversations/", self._create_conversation, methods=["POST"]),
            Route("/conversations/messages/inbound", self._inbound_message, methods=["POST"]),
            Route("/conversations/messages/upload", self._upload, methods=["POST"]),
            Route(
                "/conversations/messages/{message_id}/status", self._message_status, methods=["PUT"]
            ),
        ]

    async def _record(self, request: Request) -> RecordedCall:
        content_type = request.headers.get("content-type", "")
        form: dict[str, str] | None = None
        body: Any = None
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = {k: str(v) for k, v in (await request.form()).items()}
        elif content_type.startswith("application/json"):
            body = await request.json()
        call = RecordedCall(
            request.method,
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            form,
            body,
        )
        self.calls.append(call)
        return call

    @staticmethod
    def _answer(call: RecordedCall, body: Any, status: int = 200, **headers: str) -> Response:
        call.status = status
        return JSONResponse(body, status_code=status, headers=headers or None)

    async def _fault(self, call: RecordedCall) -> Response | None:
        for fault in self._faults:
            if not call.path.startswith(fault.path_prefix):
                continue
            if fault.method is not None and fault.method != call.method:
                continue
            if fault.times is not None and fault.times <= 0:
                continue
            if self._random.random() >= fault.rate:
                continue
            if fault.times is not None:
                fault.times -= 1
            if fault.status is None:
                call.status = -1
                await asyncio.sleep(self.hang_seconds)
                return Response(status_code=504)
            headers = {"Retry-After": "0.05"} if fault.status == 429 else {}
            return self._answer(call, {"message": "injected failure"}, fault.status, **headers)
        return None

    def _check_version(self, call: RecordedCall) -> Response | None:
        want = VERSION_CONVERSATIONS if call.path.startswith("/conversations") else VERSION_DEFAULT
        if call.headers.get("version") != want:
            return self._answer(
                call, {"statusCode": 400, "message": f"Version header must be {want}"}, 400
            )
        return None

    def _auth(self, call: RecordedCall, user_type: str) -> Grant | Response:
        header = call.headers.get("authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        entry = self.access_tokens.get(token)
        if entry is None or entry[1] <= time.time():
            return self._answer(call, {"statusCode": 401, "message": "Invalid JWT"}, 401)
        grant = entry[0]
        if grant.user_type != user_type:
            return self._answer(
                call,
                {
                    "statusCode": 401,
                    "message": f"This route is not yet supported by the {grant.user_type} token",
                },
                401,
            )
        return grant

    def _limit(self, call: RecordedCall, resource: str) -> Response | None:
        call.resource = resource
        limit, interval = self.rate_limit
        window = self._windows.setdefault(resource, deque())
        now = time.monotonic()
        while window and window[0] + interval <= now:
            window.popleft()
        headers = {
            "X-RateLimit-Max": str(limit),
            "X-RateLimit-Interval-Milliseconds": str(int(interval * 1000)),
        }
        if len(window) >= limit:
            wait = window[0] + interval - now
            return self._answer(
                call,
                {"statusCode": 429, "message": "Too many requests"},
                429,
                **headers,
                **{"X-RateLimit-Remaining": "0", "Retry-After": f"{max(wait, 0.001):.3f}"},
            )
        window.append(now)
        call.rate_headers = {**headers, "X-RateLimit-Remaining": str(limit - len(window))}
        return None

    async def _guard(
        self, request: Request, user_type: str = "Location"
    ) -> tuple[RecordedCall, Grant | None, Response | None]:
        """Record, inject faults, check Version, bearer and the rate limit, in GHL's order."""
        call = await self._record(request)
        failed = await self._fault(call) or self._check_version(call)
        if failed is not None:
            return call, None, failed
        grant = self._auth(call, user_type)
        if isinstance(grant, Response):
            return call, None, grant
        resource = grant.location_id if user_type == "Location" else grant.company_id
        limited = self._limit(call, resource or "")
        return call, grant, limited

    def _ok(self, call: RecordedCall, body: Any, status: int = 200) -> Response:
        return self._answer(call, body, status, **call.rate_headers)

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
        page = everything[skip : skip + limit]
        locations = [{"_id": loc, "name": name, "isInstalled": True} for loc, name in page]
        return self._ok(call, {"locations": locations, "count": len(everything)})

    # -- contacts ------------------------------------------------------------------------------

    def _forbidden(self, call: RecordedCall, grant: Grant, location_id: object) -> Response | None:
        if location_id != grant.location_id:
            return self._ok(call, {"statusCode": 403, "message": "token not for location"}, 403)
        return None

    async def _upsert_contact(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        body = call.json or {}
        wrong = self._forbidden(call, grant, body.get("locationId"))
        if wrong is not None:
            return wrong
        for contact in self.contacts.values():
            if contact["locationId"] == grant.location_id and contact["phone"] == body.get("phone"):
                contact.update({k: v for k, v in body.items() if k in ("name", "tags")})
                return self._ok(call, {"new": False, "contact": contact})
        contact = {"id": self._id("contact-"), **body}
        self.contacts[contact["id"]] = contact
        return self._ok(call, {"new": True, "contact": contact}, 201)

    async def _duplicate_contact(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        wrong = self._forbidden(call, grant, call.query.get("locationId"))
        if wrong is not None:
            return wrong
        number = call.query.get("number")
        found = next(
            (
                c
                for c in self.contacts.values()
                if c["locationId"] == grant.location_id and c["phone"] == number
            ),
            None,
        )
        return self._ok(call, {"contact": found})

    # -- conversations ---------------------------------------------------------------------------

    async def _search_conversations(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        wrong = self._forbidden(call, grant, call.query.get("locationId"))
        if wrong is not None:
            return wrong
        found = [
            c
            for c in self.conversations.values()
            if c["locationId"] == grant.location_id
            and c["contactId"] == call.query.get("contactId")
        ]
        return self._ok(call, {"conversations": found, "total": len(found)})

    async def _create_conversation(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        body = call.json or {}
        wrong = self._forbidden(call, grant, body.get("locationId"))
        if wrong is not None:
            return wrong
        conversation = {
            "id": self._id("conv-"),
            "locationId": grant.location_id,
            "contactId": body.get("contactId"),
        }
        self.conversations[conversation["id"]] = conversation
        return self._ok(call, {"success": True, "conversation": conversation}, 201)

    async def _inbound_message(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        body = dict(call.json or {})
        conversation_id = body.get("conversationId") or self._id("conv-")
        message = {"id": self._id("msg-"), "locationId": grant.location_id, **body}
        message["conversationId"] = conversation_id
        self.messages[message["id"]] = message
        return self._ok(
            call,
            {"success": True, "conversationId": conversation_id, "messageId": message["id"]},
        )

    async def _message_status(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        message = self.messages.get(request.path_params["message_id"])
        if message is None or message["locationId"] != grant.location_id:
            body = {"statusCode": 403, "message": "No conversation provider found for this message"}
            return self._ok(call, body, 403)
        message["status"] = (call.json or {}).get("status")
        message["error"] = (call.json or {}).get("error")
        return self._ok(call, {"success": True})

    async def _file(self, request: Request) -> Response:
        found = self.files.get(request.path_params["name"])
        if found is None:
            return Response(status_code=404)
        data, content_type = found
        return Response(data, media_type=content_type)

    async def _upload(self, request: Request) -> Response:
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return failed or self._answer(call, {}, 500)
        form = await request.form()
        upload = form.get("fileAttachment")
        if upload is None or isinstance(upload, str):
            return self._ok(call, {"statusCode": 400, "message": "fileAttachment missing"}, 400)
        data = await upload.read()
        await form.close()  # the upload's spooled temporary file
        url = f"{self.url}/files/{self._id('file-')}/{upload.filename}"
        self.uploads.append(
            {
                "url": url,
                "filename": upload.filename,
                "content_type": upload.content_type,
                "data": data,
                "fields": {k: v for k, v in form.items() if isinstance(v, str)},
            }
        )
        return self._ok(call, {"uploadedFiles": {upload.filename: url}})


@contextlib.asynccontextmanager
async def run_fake_ghl(**options: Any) -> AsyncIterator[FakeGhl]:
    """Serve a `FakeGhl(**options)` on a free port for the duration of the block."""
    fake = FakeGhl(**options)
    port = free_port()
    config = uvicorn.Config(
        fake.app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(400):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.025)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=math.ceil(fake.hang_seconds) + 10)
