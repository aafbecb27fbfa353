"""The event bus across processes: Redis pub/sub (issue 17).

An engine's QR, status change or error is published by the process that runs it and reaches
the WebSockets subscribed on every process. Each process keeps one Redis subscription per topic
its own subscribers want (counted locally, unsubscribed when the last one closes) and fans the
events out locally.

Order: everything a process publishes goes through one connection, one command at a time
(redis-py's single-connection client holds a FIFO lock), and Redis delivers a channel's messages
to a subscriber in the order it received them, so one publisher's events for a topic arrive in
order. An instance's events have one publisher: the worker that owns it.

Pub/sub keeps nothing: what is published while a subscriber's connection is down is lost to it.
That is the contract the page already lives with: every (re)subscription starts with a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ghl_app.bus.base import Event, Fanout, Subscription
from ghl_app.errors import ConfigError

log = logging.getLogger(__name__)

# Channels are namespaced so the app can share a Redis with other users.
PREFIX = "ghl-whatsapp:bus:"
# A channel of our own, subscribed at start: redis-py reads a pub/sub connection only once it
# has a subscription, and this one keeps it open while no topic is wanted.
_CONTROL = PREFIX + "_control"
_RETRY_S = 1.0


class RedisEventBus:
    def __init__(self, url: str) -> None:
        self._url = url
        self._fanout = Fanout()
        self._publisher: Any = aioredis.Redis.from_url(url, single_connection_client=True)
        self._listener: Any = aioredis.Redis.from_url(url)
        self._pubsub: Any = self._listener.pubsub()
        # Per topic, the event its subscriptions wait on until Redis confirms the channel.
        self._ready: dict[str, asyncio.Event] = {}
        # Confirmations not yet received, per channel, oldest first.
        self._confirming: dict[str, deque[asyncio.Event]] = {}
        self._commands: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._publish_failing = False

    async def start(self) -> None:
        try:
            await self._publisher.ping()
            await self._pubsub.subscribe(_CONTROL)
        except (RedisError, OSError) as exc:
            raise ConfigError(f"REDIS_URL: cannot reach Redis ({exc})") from None
        self._tasks = [
            asyncio.create_task(self._read(), name="bus-redis-read"),
            asyncio.create_task(self._command(), name="bus-redis-command"),
        ]
        log.info("event bus on Redis %s", self._url.split("@")[-1])

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        # redis-py can swallow a cancellation that lands inside a (un)subscribe, and the task
        # then waits for its next command for ever: a close must not hang on it. Cancelled
        # again, and the connections closed below end whatever it still awaits.
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        self._tasks = []
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._listener.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._publisher.aclose()

    async def publish(self, topic: str, event: Event) -> None:
        try:
            await self._publisher.publish(PREFIX + topic, json.dumps(event, default=str))
        except (RedisError, OSError) as exc:
            # Like the in-process bus, publishing never fails the caller: the state it tells of
            # is in the database, and subscribers resynchronise from it.
            if not self._publish_failing:
                log.warning("event bus: publishing to Redis failed (%s); events are dropped", exc)
            self._publish_failing = True
            return
        if self._publish_failing:
            log.info("event bus: publishing to Redis works again")
        self._publish_failing = False

    def subscribe(self, topic: str, maxsize: int = 256) -> Subscription:
        if self._fanout.count(topic) == 0:
            ready = asyncio.Event()
            self._ready[topic] = ready
            self._confirming.setdefault(PREFIX + topic, deque()).append(ready)
            self._commands.put_nowait(("subscribe", PREFIX + topic))
        subscription = Subscription(topic, self._closed, self._ready[topic], maxsize)
        self._fanout.add(subscription)
        return subscription

    def subscriber_count(self, topic: str) -> int:
        return self._fanout.count(topic)

    def _closed(self, subscription: Subscription) -> None:
        if self._fanout.remove(subscription):
            self._ready.pop(subscription.topic, None)
            self._commands.put_nowait(("unsubscribe", PREFIX + subscription.topic))

    async def _command(self) -> None:
        """(Un)subscribes in the order subscriptions came and went."""
        while True:
            action, channel = await self._commands.get()
            while True:
                try:
                    if action == "subscribe":
                        await self._pubsub.subscribe(channel)
                    else:
                        await self._pubsub.unsubscribe(channel)
                    break
                except (RedisError, OSError) as exc:
                    log.warning("event bus: %s %s failed (%s); retrying", action, channel, exc)
                    await asyncio.sleep(_RETRY_S)

    async def _read(self) -> None:
        failing = False
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                if not failing:
                    log.warning("event bus: lost Redis (%s); reconnecting", exc)
                failing = True
                await asyncio.sleep(_RETRY_S)
                continue
            if failing:
                # redis-py subscribes the connection to its channels again when it reconnects.
                log.info("event bus: Redis is back")
                failing = False
            if message is not None:
                self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        if message["type"] == "subscribe":
            waiting = self._confirming.get(channel)
            if waiting:
                waiting.popleft().set()
                if not waiting:
                    del self._confirming[channel]
            return
        if message["type"] != "message" or not channel.startswith(PREFIX):
            return
        try:
            event = json.loads(message["data"])
        except (ValueError, TypeError):
            log.warning("event bus: dropped a message on %s that is not JSON", channel)
            return
        if isinstance(event, dict):
            self._fanout.offer(channel[len(PREFIX) :], event)
