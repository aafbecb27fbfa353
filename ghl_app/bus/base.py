"""What every event bus offers: topics, subscriptions and their local fan-out.

Topics are strings, e.g. `instance:<uuid>`; events are JSON-able dicts. A subscription is a
bounded queue: a slow subscriber loses the oldest events rather than holding memory for ever
(the page resynchronises from a snapshot anyway).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

Event = dict[str, Any]
_READY_S = 5.0


class EventBus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, topic: str, maxsize: int = 256) -> Subscription: ...

    def subscriber_count(self, topic: str) -> int: ...


class Subscription:
    def __init__(
        self,
        topic: str,
        on_close: Callable[[Subscription], object],
        ready: asyncio.Event,
        maxsize: int = 256,
    ) -> None:
        self.topic = topic
        self._on_close = on_close
        self._ready = ready
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)

    def offer(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    async def ready(self) -> bool:
        """Wait until events published from now on reach this subscription (at once in
        process; on Redis, once the server confirmed the channel). False after 5 s without."""
        try:
            async with asyncio.timeout(_READY_S):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    async def get(self) -> Event:
        return await self._queue.get()

    def close(self) -> None:
        self._on_close(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class Fanout:
    """This process's subscriptions by topic."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> bool:
        """Keep `subscription`; True when it is its topic's first here."""
        subscribers = self._subscribers.setdefault(subscription.topic, set())
        subscribers.add(subscription)
        return len(subscribers) == 1

    def remove(self, subscription: Subscription) -> bool:
        """Forget `subscription`; True when its topic has no subscriber left here."""
        subscribers = self._subscribers.get(subscription.topic)
        if subscribers is None or subscription not in subscribers:
            return False
        subscribers.discard(subscription)
        if subscribers:
            return False
        # Drop empty topics so the map does not only ever grow.
        del self._subscribers[subscription.topic]
        return True

    def offer(self, topic: str, event: Event) -> None:
        for subscription in list(self._subscribers.get(topic, ())):
            subscription.offer(event)

    def count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))
