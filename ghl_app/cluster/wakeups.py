"""Jobs queued on one node wake the workers' pollers at once (issue 17).

A web node queues the jobs its webhooks bring (a reply typed in GHL); a worker runs them. The
queue wakes its own poller when it inserts a job; across processes the other pollers would
only find it at their next poll (half a second). One small message on the bus, coalesced while
one is on its way, wakes every worker's poller instead.
"""

from __future__ import annotations

import logging

from ghl_app.bus import EventBus, Subscription
from ghl_app.jobs import JobQueue
from ghl_app.supervisor import TaskSupervisor

log = logging.getLogger(__name__)

TOPIC = "jobs:wake"


class JobWakeups:
    def __init__(
        self, bus: EventBus, queue: JobQueue, supervisor: TaskSupervisor, *, listen: bool
    ) -> None:
        self._bus = bus
        self._queue = queue
        self._supervisor = supervisor
        self._listen = listen
        self._sending = False

    async def start(self) -> None:
        self._queue.on_wake = self._announce
        if self._listen:
            subscription = self._bus.subscribe(TOPIC, maxsize=16)
            if not await subscription.ready():
                log.warning("job wake-ups: the bus did not confirm the topic; polling only")
            self._supervisor.spawn("jobs-wakeups", self._hear(subscription))

    def _announce(self) -> None:
        if self._sending:
            return  # one on its way wakes them all
        self._sending = True
        self._supervisor.spawn("jobs-wake", self._send())

    async def _send(self) -> None:
        try:
            await self._bus.publish(TOPIC, {})
        finally:
            self._sending = False

    async def _hear(self, subscription: Subscription) -> None:
        async for _ in subscription:
            self._queue.wake_here()
