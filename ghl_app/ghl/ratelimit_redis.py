"""GHL's burst limit shared by every process through Redis (issue 17, item 6).

GHL counts 100 requests per 10 s per app per location, whichever of our processes sends them;
each process keeping its own window would let N processes send N times the budget and earn
429s. Here the window is a sorted set per location in Redis, checked and counted in one script
(atomic on the server, timed by the server's clock so machines' clocks need not agree). The
contract is `RateLimiter`'s: FIFO per location within a process, `OverBudget` past `max_wait`,
GHL's `X-RateLimit-Remaining` folded in, a 429 pauses the location for every process.

When Redis does not answer, the process falls back to its own window (logged once): it may then
overshoot, and GHL's 429s (which pause the location) are the backstop.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from itertools import count
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ghl_app.ghl.ratelimit import _WINDOW_PAD, OverBudget, RateLimiter

log = logging.getLogger(__name__)

_PREFIX = "ghl-whatsapp:ghl-limit:"

# KEYS: window zset, pause key. ARGV: max requests, window ms, member.
# Returns 0 when the request was counted, else the milliseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return paused - now end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""

# KEYS: window zset. ARGV: our max, GHL's remaining, window ms, member prefix.
# GHL knows of calls no process of ours made (another app's share, or counted before us): count
# them as made now, as the in-process limiter does.
_OBSERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local missing = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
for i = 1, missing do redis.call('ZADD', KEYS[1], now, ARGV[4] .. i) end
if missing > 0 then redis.call('PEXPIRE', KEYS[1], window) end
return missing
"""

# KEYS: pause key. ARGV: milliseconds. Extends the pause, never shortens it.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]))
end
return 0
"""


class RedisRateLimiter:
    def __init__(self, url: str, max_requests: int = 100, interval: float = 10.0) -> None:
        self.max_requests = max_requests
        self.interval = interval
        self._window_ms = int(interval * (1 + _WINDOW_PAD) * 1000)
        self._redis: Any = aioredis.Redis.from_url(url)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._observe = self._redis.register_script(_OBSERVE)
        self._pause = self._redis.register_script(_PAUSE)
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._member = f"{secrets.token_hex(4)}-"
        self._sequence = count()
        self._fallback = RateLimiter(max_requests, interval)
        self._failing = False
        self._background: set[asyncio.Task[Any]] = set()

    def tracked_keys(self) -> int:
        return len(self._locks)

    async def acquire(self, key: str, *, max_wait: float | None = None) -> None:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:  # FIFO among this process's callers
                while True:
                    try:
                        wait_ms = await self._acquire(
                            keys=[_PREFIX + key, _PREFIX + key + ":paused"],
                            args=[
                                self.max_requests,
                                self._window_ms,
                                f"{self._member}{next(self._sequence)}",
                            ],
                        )
                    except (RedisError, OSError) as exc:
                        self._failed(exc)
                        await self._fallback.acquire(key, max_wait=max_wait)
                        return
                    self._recovered()
                    wait = int(wait_ms) / 1000
                    if wait <= 0:
                        return
                    if max_wait is not None and wait > max_wait:
                        raise OverBudget(key, wait)
                    await asyncio.sleep(wait)
        finally:
            users[0] -= 1
            if not users[0] and self._locks.get(key, (None,))[0] is lock:
                del self._locks[key]

    def observe(self, key: str, *, remaining: int | None, limit: int | None) -> None:
        if remaining is None:
            return
        ours = min(self.max_requests, limit or self.max_requests)
        self._spawn(
            self._observe(
                keys=[_PREFIX + key],
                args=[
                    ours,
                    remaining,
                    self._window_ms,
                    f"{self._member}ghl-{next(self._sequence)}-",
                ],
            )
        )

    def pause(self, key: str, seconds: float) -> None:
        self._fallback.pause(key, seconds)
        self._spawn(
            self._pause(keys=[_PREFIX + key + ":paused"], args=[max(1, int(seconds * 1000))])
        )

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self._redis.aclose()

    def _spawn(self, call: Any) -> None:
        async def run() -> None:
            try:
                await call
            except (RedisError, OSError) as exc:
                self._failed(exc)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _failed(self, exc: BaseException) -> None:
        if not self._failing:
            log.warning(
                "GHL rate limit: Redis does not answer (%s); this process counts on its own", exc
            )
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("GHL rate limit: Redis answers again; the shared window is back")
        self._failing = False
