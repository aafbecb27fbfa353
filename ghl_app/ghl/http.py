"""The one HTTP transport to GHL: a shared `httpx.AsyncClient` (one connection pool), the
`Version` header each path wants, the per-location limiter, retries, and one error type.

Retry policy: a 429 means GHL did not process the request, so every call is retried after
`Retry-After`. Timeouts and 5xx are retried only for calls that are safe to repeat (the caller
says so); a POST that creates something is not, because its first attempt may have landed.
A connection that was never made is always safe to retry.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx

from ghl_app.ghl.ratelimit import DailyBudget, Limiter, OverBudget

log = logging.getLogger(__name__)

# ghl-api.md: contacts, oauth and locations use 2021-07-28; every /conversations/* path 2021-04-15.
VERSION_CONVERSATIONS = "2021-04-15"
VERSION_DEFAULT = "2021-07-28"


def version_for(path: str) -> str:
    return VERSION_CONVERSATIONS if path.startswith("/conversations") else VERSION_DEFAULT


class GhlApiError(Exception):
    """A GHL call failed. `status` is GHL's HTTP status, or 0 when GHL never answered
    (timeout, connection refused); `code` is GHL's machine code when it sent one (e.g.
    `invalid_grant`); `retry_after` is seconds GHL asked us to wait."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"GHL {status}: {message}" + (f" ({code})" if code else ""))
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Worth trying again later (the job queue's question)."""
        return self.status in (0, 408, 429) or self.status >= 500


class BudgetSpent(GhlApiError):
    """Not sent: the location's request budget is spent for `retry_after` seconds, longer than
    the caller was willing to wait. A 429 of our own making: nothing reached GHL."""

    def __init__(self, location: str, wait_s: float) -> None:
        super().__init__(429, f"request budget of {location} spent", "budget_spent", wait_s)


class NeedsReinstall(GhlApiError):
    """The location's (or company's) grant is gone: nothing works until it is installed again.
    Not retryable; raised without calling GHL once the flag is set."""

    def __init__(self, message: str) -> None:
        super().__init__(401, message, code="needs_reinstall")


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: rare enough from GHL that the backoff covers it


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def error_from_response(response: httpx.Response) -> GhlApiError:
    message = response.reason_phrase or "error"
    code: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_message = body.get("message") or body.get("error_description") or body.get("msg")
        if isinstance(raw_message, list):
            raw_message = "; ".join(str(part) for part in raw_message)
        if raw_message:
            message = str(raw_message)
        error = body.get("error")
        if isinstance(error, str) and error and " " not in error:
            code = error  # OAuth style: invalid_grant, invalid_request, ...
    elif response.text:
        message = response.text[:200]
    return GhlApiError(response.status_code, message, code, _retry_after(response))


class _NoCookies(httpx.Cookies):
    """GHL's API authenticates by bearer token: no cookie is ever kept or sent. httpx runs every
    response through http.cookiejar otherwise (~0.2 ms of CPU a call, measured)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


class _GhlClient(httpx.AsyncClient):
    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None  # see _NoCookies


class GhlHttp:
    def __init__(
        self,
        base_url: str,
        *,
        limiter: Limiter | None = None,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        timeout: float = 20.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.limiter = limiter
        # GHL's daily budget per location, as its answers report it (ratelimit.DailyBudget).
        self.daily: DailyBudget | None = DailyBudget() if limiter is not None else None
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._base_url = httpx.URL(base_url)
        # Told of every answer (status, headers) or of no answer (0, None): the metrics.
        self.observers: list[Callable[[int, httpx.Headers | None], None]] = []
        # Absolute URLs by path, parsed once: httpx parses and merges a relative URL with the
        # base on every request (~0.2 ms of CPU). Bounded: status paths carry message ids.
        self._urls: dict[str, httpx.URL] = {}
        self._client = client or _GhlClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=10.0),
            # Keep-alive for as many connections as jobs run at once (JOB_CONCURRENCY):
            # fewer would close and reopen (TLS) connections under load.
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=64),
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= 1024:
                self._urls.clear()
            # As httpx merges a relative URL: the base's own path is kept as a prefix.
            url = self._urls[path] = httpx.URL(
                f"{str(self._base_url).rstrip('/')}/{path.lstrip('/')}"
            )
        return url

    def _backoff(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return retry_after
        # Exponential with "equal jitter": spreads retries without ever waiting almost nothing.
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return float(delay / 2 + random.uniform(0, delay / 2))

    async def request(
        self,
        method: str,
        path: str,
        *,
        limit_key: str | None,
        bearer: str | None,
        retry_safe: bool,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        budget_wait_s: float | None = None,
        deferrable: bool = False,
    ) -> dict[str, Any]:
        """Send one logical call (retrying as the policy allows); return GHL's JSON object.

        With `budget_wait_s`, a call that would wait longer than that for its location's request
        budget raises `BudgetSpent` instead of waiting. Near the end of the location's daily
        budget a `deferrable` call raises it too, and at its end every call does."""
        if limit_key is not None and self.daily is not None:
            wait = self.daily.wait_s(limit_key, deferrable=deferrable)
            if wait > 0:
                raise BudgetSpent(f"{limit_key} (daily)", wait)
        headers = {"Version": version_for(path)}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        limiter = self.limiter if limit_key is not None else None
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= self.max_attempts
            if limiter is not None and limit_key is not None:
                try:
                    await limiter.acquire(limit_key, max_wait=budget_wait_s)
                except OverBudget as exc:
                    raise BudgetSpent(limit_key, exc.wait_s) from None
            try:
                response = await self._client.request(
                    method,
                    self._url(path),
                    params=params,
                    json=json,
                    data=data,
                    files=files,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "network"
                error = GhlApiError(0, f"no answer from GHL ({type(exc).__name__})", kind)
                for observe in self.observers:
                    observe(0, None)
                if last or not (retry_safe or never_sent):
                    raise error from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            for observe in self.observers:
                observe(response.status_code, response.headers)
            if limiter is not None and limit_key is not None:
                limiter.observe(
                    limit_key,
                    remaining=_int_header(response, "X-RateLimit-Remaining"),
                    limit=_int_header(response, "X-RateLimit-Max"),
                )
            if self.daily is not None and limit_key is not None:
                self.daily.observe(
                    limit_key,
                    remaining=_int_header(response, "X-RateLimit-Daily-Remaining"),
                    limit=_int_header(response, "X-RateLimit-Limit-Daily"),
                )
            if response.status_code < 400:
                return _json_object(response)
            error = error_from_response(response)
            if response.status_code == 429:
                # Not processed by GHL: safe to send again, whatever the call.
                wait = (
                    error.retry_after if error.retry_after is not None else self._backoff(attempt)
                )
                if limiter is not None and limit_key is not None:
                    limiter.pause(limit_key, wait)
                    wait = 0.0
                if not last:
                    await asyncio.sleep(wait)
                    continue
            elif response.status_code >= 500 and retry_safe and not last:
                await asyncio.sleep(self._backoff(attempt, error.retry_after))
                continue
            if response.status_code >= 500 or response.status_code == 429:
                log.warning(
                    "GHL %s %s failed after %d attempt(s): %s",
                    method,
                    path,
                    attempt,
                    error,
                    extra={"location_id": limit_key},
                )
            raise error


def _json_object(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"data": body}
