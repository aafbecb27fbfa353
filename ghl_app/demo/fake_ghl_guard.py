"""The part of the fake GoHighLevel (ghl_app/demo/fake_ghl.py) every API route goes through.

Holds the shared vocabulary (`RecordedCall`, `Grant`, the app's client credentials and the
`Version` values) and `GuardedFake`, the base class with the call log and the guard GHL applies
before any route does its work, in GHL's order: record the call, injected faults, the `Version`
header (400), the bearer token (401), the burst limit per location or company (429 with
`Retry-After` and `X-RateLimit-*`). Token issuing lives in fake_ghl_oauth.py, the resources in
fake_ghl.py.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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


class GuardedFake:
    """Call log, fault injection, Version / bearer / rate-limit checks, shared by all routes."""

    def __init__(self, *, rate_limit: tuple[int, float], hang_seconds: float, seed: int) -> None:
        self.url = ""
        self.rate_limit = rate_limit
        self.hang_seconds = hang_seconds
        self.calls: list[RecordedCall] = []
        # Bearer tokens GHL accepts, with who they speak for and when they expire (epoch s);
        # issued by the OAuth side, checked here.
        self.access_tokens: dict[str, tuple[Grant, float]] = {}
        self._faults: list[_Fault] = []
        self._windows: dict[str, deque[float]] = {}
        # GHL's daily limit per app per resource (200,000; ghl-api.md "Rate limits"), reported
        # on every answer as X-RateLimit-Limit-Daily / X-RateLimit-Daily-Remaining.
        # Requests and answers checked against the official SDK's models (ghl_models.py); what
        # does not validate is listed here and fails the test (run_fake_ghl).
        self.validate_models = True
        self.model_violations: list[str] = []
        self.daily_limit = 200_000
        self.daily_used: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._random = random.Random(seed)

    # -- test set-up ---------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):05d}"

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

    def calls_to(self, path: str, method: str | None = None) -> list[RecordedCall]:
        return [c for c in self.calls if c.path == path and (method is None or c.method == method)]

    # -- plumbing --------------------------------------------------------------------------------

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
        if self.validate_models:
            # Imported here: the oracle is a dev-only package; the demo runs with it off.
            from ghl_app.demo.ghl_models import request_problem

            problem = request_problem(call.method, call.path, body if form is None else form)
            if problem is not None:
                self.model_violations.append(f"{call.method} {call.path} body: {problem}")
        return call

    def _answer(self, call: RecordedCall, body: Any, status: int = 200, **headers: str) -> Response:
        call.status = status
        if self.validate_models:
            from ghl_app.demo.ghl_models import response_problem

            problem = response_problem(call.method, call.path, status, body)
            if problem is not None:
                self.model_violations.append(f"answer to {call.method} {call.path}: {problem}")
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
        used = self.daily_used.get(resource, 0)
        daily = {"X-RateLimit-Limit-Daily": str(self.daily_limit)}
        if used >= self.daily_limit:
            return self._answer(
                call,
                {"statusCode": 429, "message": "Daily limit reached"},
                429,
                **headers,
                **daily,
                **{"X-RateLimit-Daily-Remaining": "0", "X-RateLimit-Remaining": "0"},
            )
        self.daily_used[resource] = used + 1
        window.append(now)
        call.rate_headers = {
            **headers,
            **daily,
            "X-RateLimit-Remaining": str(limit - len(window)),
            "X-RateLimit-Daily-Remaining": str(self.daily_limit - used - 1),
        }
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

    async def _guard_location(
        self, request: Request, *, in_query: bool
    ) -> tuple[RecordedCall, Grant | None, Response | None]:
        """The guard, then the `locationId` the call names (query or JSON body) must be the
        token's: 403 otherwise."""
        call, grant, failed = await self._guard(request)
        if failed is not None or grant is None:
            return call, grant, failed
        location_id = (
            call.query.get("locationId") if in_query else (call.json or {}).get("locationId")
        )
        if location_id != grant.location_id:
            body = {"statusCode": 403, "message": "token not for location"}
            return call, grant, self._ok(call, body, 403)
        return call, grant, None

    def _ok(self, call: RecordedCall, body: Any, status: int = 200) -> Response:
        return self._answer(call, body, status, **call.rate_headers)
