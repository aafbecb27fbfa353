"""The event bus between processes on a real Redis (issue 17, item 2)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from ghl_app.bus import make_bus
from ghl_app.bus.base import Event, Subscription
from ghl_app.bus.redis import PREFIX, RedisEventBus
from ghl_app.errors import ConfigError
from support.app_server import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

pytestmark = pytest.mark.redis


async def _take(subscription: Subscription, count: int) -> list[Event]:
    async with asyncio.timeout(30):
        return [await subscription.get() for _ in range(count)]


async def _subscribers(url: str, topic: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        counts = await client.pubsub_numsub(PREFIX + topic)
        return int(counts[0][1])
    finally:
        await client.aclose()


async def test_events_another_process_publishes_arrive_once_in_order_per_topic(
    redis_url: str,
) -> None:
    bus = RedisEventBus(redis_url)
    await bus.start()
    try:
        a, b, other = (bus.subscribe(f"instance:{name}") for name in ("a", "b", "c"))
        for subscription in (a, b, other):
            assert await subscription.ready()
        published = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, str(HERE / "_publisher.py"), redis_url, "400"],
            env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stderr[-2000:]
        got_a, got_b = await _take(a, 200), await _take(b, 200)
        assert [event["seq"] for event in got_a] == list(range(200))
        assert [event["seq"] for event in got_b] == list(range(200))
        await asyncio.sleep(0.2)
        assert other._queue.empty() and a._queue.empty() and b._queue.empty()
    finally:
        await bus.close()


async def test_a_topic_is_subscribed_on_redis_while_this_process_has_a_subscriber(
    redis_url: str,
) -> None:
    bus, publisher = RedisEventBus(redis_url), RedisEventBus(redis_url)
    await bus.start()
    await publisher.start()
    try:
        first, second = bus.subscribe("instance:x"), bus.subscribe("instance:x")
        assert await first.ready() and await second.ready()
        assert await _subscribers(redis_url, "instance:x") == 1  # one per process, not per page
        await publisher.publish("instance:x", {"n": 1})
        assert await _take(first, 1) == [{"n": 1}] and await _take(second, 1) == [{"n": 1}]

        first.close()
        await publisher.publish("instance:x", {"n": 2})
        assert await _take(second, 1) == [{"n": 2}]

        second.close()
        async with asyncio.timeout(10):
            while await _subscribers(redis_url, "instance:x"):
                await asyncio.sleep(0.02)

        again = bus.subscribe("instance:x")
        assert await again.ready()
        await publisher.publish("instance:x", {"n": 3})
        assert await _take(again, 1) == [{"n": 3}]
        again.close()
    finally:
        await publisher.close()
        await bus.close()


async def test_a_subscription_made_and_dropped_at_once_leaves_nothing_behind(
    redis_url: str,
) -> None:
    bus = RedisEventBus(redis_url)
    await bus.start()
    try:
        for _ in range(20):  # subscribe/unsubscribe commands keep their order
            bus.subscribe("instance:y").close()
        last = bus.subscribe("instance:y")
        assert await last.ready()
        assert await _subscribers(redis_url, "instance:y") == 1
        last.close()
        async with asyncio.timeout(10):
            while await _subscribers(redis_url, "instance:y"):
                await asyncio.sleep(0.02)
    finally:
        await bus.close()


async def test_an_unreachable_redis_is_one_clear_error() -> None:
    bus = make_bus(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(ConfigError, match="REDIS_URL: cannot reach Redis"):
        await bus.start()
    await bus.close()
