"""The embedded default: events go from publisher to subscribers inside this process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ghl_app.bus.base import Event, Fanout, Subscription


class InProcessEventBus:
    def __init__(self) -> None:
        self._fanout = Fanout()
        self._ready = asyncio.Event()
        self._ready.set()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, topic: str, event: Event) -> None:
        self._fanout.offer(topic, event)

    def subscribe(self, topic: str, maxsize: int = 256) -> Subscription:
        subscription = Subscription(topic, self._fanout.remove, self._ready, maxsize)
        self._fanout.add(subscription)
        return subscription

    def subscriber_count(self, topic: str) -> int:
        return self._fanout.count(topic)

    @asynccontextmanager
    async def subscription(self, topic: str) -> AsyncIterator[Subscription]:
        subscription = self.subscribe(topic)
        try:
            yield subscription
        finally:
            subscription.close()
