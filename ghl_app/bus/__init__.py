"""The event bus: how session and message changes reach WebSockets, in one process or many.

`InProcessEventBus` is the embedded default; `RedisEventBus` carries events between processes
when `REDIS_URL` is set (architecture.md, "Scale").
"""

from __future__ import annotations

from ghl_app.bus.base import Event, EventBus, Subscription
from ghl_app.bus.inprocess import InProcessEventBus


def make_bus(redis_url: str | None) -> EventBus:
    if redis_url:
        from ghl_app.bus.redis import RedisEventBus

        return RedisEventBus(redis_url)
    return InProcessEventBus()


__all__ = ["Event", "EventBus", "InProcessEventBus", "Subscription", "make_bus"]
