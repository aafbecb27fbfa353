"""The event bus: how session and message changes reach the page's WebSockets.

An interface with an in-process implementation; a Redis one can replace it when the app spans
several processes (architecture.md, "Scale"). Topics are strings, e.g. `instance:<uuid>`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)

Event = dict[str, Any]


class EventBus(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, topic: str) -> Subscription: ...


class Subscription:
    """A bounded queue of events for one subscriber. A slow subscriber loses the oldest events
    rather than holding memory forever: the page resynchronises from a snapshot anyway."""

    def __init__(self, bus: InProcessEventBus, topic: str, maxsize: int = 256) -> None:
        self.topic = topic
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)

    def _offer(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        return await self._queue.get()

    def close(self) -> None:
        self._bus._remove(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class InProcessEventBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    async def publish(self, topic: str, event: Event) -> None:
        for subscription in list(self._subscribers.get(topic, ())):
            subscription._offer(event)

    def subscribe(self, topic: str) -> Subscription:
        subscription = Subscription(self, topic)
        self._subscribers.setdefault(topic, set()).add(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.topic)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            # Drop empty topics so the map does not only ever grow.
            del self._subscribers[subscription.topic]

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    @asynccontextmanager
    async def subscription(self, topic: str) -> AsyncIterator[Subscription]:
        subscription = self.subscribe(topic)
        try:
            yield subscription
        finally:
            subscription.close()
