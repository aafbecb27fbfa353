"""A per-location limiter that keeps our calls under GHL's burst limit (100 requests / 10 s per
app per resource, ghl-api.md "Rate limits").

A sliding window of send times per key, reconciled with what GHL reports: when
`X-RateLimit-Remaining` says less budget is left than we think (another process shares it), the
window is topped up; a 429 pauses the key for `Retry-After`. Keys nobody uses are dropped, so
the map does not grow with every location ever seen.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

# Request arrival at GHL jitters against our send time; a small pad on the window absorbs it.
_WINDOW_PAD = 0.03


class OverBudget(Exception):
    """The key's budget is spent for longer than the caller will wait: `wait_s` until it frees."""

    def __init__(self, key: str, wait_s: float) -> None:
        super().__init__(f"no GHL request budget left for {key} for {wait_s:.1f}s")
        self.wait_s = wait_s


class Limiter(Protocol):
    """What the HTTP layer needs of a limiter: this process's own (`RateLimiter`) or the one
    every process shares through Redis (`ratelimit_redis.RedisRateLimiter`)."""

    async def acquire(self, key: str, *, max_wait: float | None = None) -> None: ...

    def observe(self, key: str, *, remaining: int | None, limit: int | None) -> None: ...

    def pause(self, key: str, seconds: float) -> None: ...


class _KeyWindow:
    __slots__ = ("blocked_until", "lock", "sent", "users")

    def __init__(self) -> None:
        self.sent: deque[float] = deque()
        self.lock = asyncio.Lock()
        self.blocked_until = 0.0
        self.users = 0


class RateLimiter:
    def __init__(
        self,
        max_requests: int = 100,
        interval: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_requests = max_requests
        self.interval = interval
        self._clock = clock
        self._windows: dict[str, _KeyWindow] = {}
        self._last_sweep = clock()

    @property
    def _window(self) -> float:
        return self.interval * (1 + _WINDOW_PAD)

    def tracked_keys(self) -> int:
        return len(self._windows)

    async def acquire(self, key: str, *, max_wait: float | None = None) -> None:
        """Wait until one more request for `key` fits in the window, and count it.

        With `max_wait`, a wait longer than that raises `OverBudget` instead (nothing counted):
        a job should give its worker to another location rather than sleep on this one's budget.
        """
        self._sweep()
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _KeyWindow()
        window.users += 1
        try:
            async with window.lock:  # FIFO: callers go out in arrival order
                while True:
                    now = self._clock()
                    self._expire(window, now)
                    wait = window.blocked_until - now
                    if wait <= 0 and len(window.sent) >= self.max_requests:
                        wait = window.sent[0] + self._window - now
                    if wait <= 0:
                        window.sent.append(now)
                        return
                    if max_wait is not None and wait > max_wait:
                        raise OverBudget(key, wait)
                    await asyncio.sleep(wait)
        finally:
            window.users -= 1
            self._forget_if_idle(key, window)

    def observe(self, key: str, *, remaining: int | None, limit: int | None) -> None:
        """Reconcile with GHL's `X-RateLimit-Remaining` / `X-RateLimit-Max` of a response."""
        window = self._windows.get(key)
        if window is None or remaining is None:
            return
        now = self._clock()
        self._expire(window, now)
        ours = min(self.max_requests, limit or self.max_requests) - len(window.sent)
        # GHL knows of calls we did not make (another process): count them as made now.
        for _ in range(max(0, ours - remaining)):
            window.sent.append(now)

    def pause(self, key: str, seconds: float) -> None:
        """GHL answered 429: nobody sends for `key` until `seconds` have passed."""
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _KeyWindow()
        window.blocked_until = max(window.blocked_until, self._clock() + seconds)

    def _expire(self, window: _KeyWindow, now: float) -> None:
        while window.sent and window.sent[0] + self._window <= now:
            window.sent.popleft()

    def _sweep(self) -> None:
        now = self._clock()
        if now - self._last_sweep < self._window:
            return
        self._last_sweep = now
        for key, window in list(self._windows.items()):
            self._forget_if_idle(key, window)

    def _forget_if_idle(self, key: str, window: _KeyWindow) -> None:
        if window.users:
            return
        now = self._clock()
        self._expire(window, now)
        if not window.sent and window.blocked_until <= now and self._windows.get(key) is window:
            del self._windows[key]


# GHL's daily limit: 200,000 requests per app per resource a day (ghl-api.md "Rate limits"),
# reported on every answer as `X-RateLimit-Limit-Daily` and `X-RateLimit-Daily-Remaining`.
# When a key's remaining budget falls to its reserve, work that can wait (status ticks, group
# renames) waits, so messages keep flowing until the day's end; at zero everything waits.
DAILY_RESERVE_SHARE = 0.02
DAILY_RESERVE_MIN = 500
# When the day's budget is out, a call is tried again after this long: GHL does not say when
# its day ends, so a later answer's headers decide.
DAILY_RETRY_S = 900.0
# A reading older than this is not trusted (the day may have turned).
DAILY_STALE_S = 3600.0


class DailyBudget:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[str, tuple[int, int, float]] = {}  # key -> (remaining, limit, when)

    def observe(self, key: str, *, remaining: int | None, limit: int | None) -> None:
        if remaining is None:
            return
        if limit is None:
            limit = self._seen.get(key, (0, 200_000, 0.0))[1]
        self._seen[key] = (remaining, limit, self._clock())

    def remaining(self, key: str) -> int | None:
        seen = self._seen.get(key)
        if seen is None or self._clock() - seen[2] > DAILY_STALE_S:
            return None
        return seen[0]

    def low(self, key: str) -> bool:
        """At or under its reserve: only work that cannot wait goes on."""
        seen = self._seen.get(key)
        remaining = self.remaining(key)
        if seen is None or remaining is None:
            return False
        return remaining <= max(DAILY_RESERVE_MIN, int(seen[1] * DAILY_RESERVE_SHARE))

    def wait_s(self, key: str, *, deferrable: bool) -> float:
        """0 when a call may go now; else how long to wait before trying."""
        remaining = self.remaining(key)
        if remaining is None:
            return 0.0
        if remaining <= 0 or (deferrable and self.low(key)):
            return DAILY_RETRY_S
        return 0.0

    def low_keys(self) -> list[str]:
        return sorted(key for key in list(self._seen) if self.low(key))
