"""A location's share of the job slots (issue 14, High 2): 33 replies of one location whose
attachments trickled a byte every 20 s held all 32 slots, and another location's plain text
waited 10 minutes. Each location now runs at most `per_location` jobs at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from ghl_app.jobs import JobQueue
from ghl_app.models import Job, JobStatus

MakeQueue = Callable[..., Awaitable[JobQueue]]
WaitForStatus = Callable[..., Awaitable[Any]]


async def test_a_stalled_location_waits_on_its_own_slots_and_another_location_runs(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    release = asyncio.Event()
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    async def handler(job: Job) -> None:
        location = job.location_id or "-"
        running[location] += 1
        peak[location] = max(peak[location], running[location])
        try:
            if location == "loc-slow":
                await release.wait()  # a fetch that never finishes on its own
        finally:
            running[location] -= 1

    queue = await make_queue(handlers={"reply": handler}, concurrency=4, per_location=2)
    slow = [
        (await queue.enqueue("reply", {}, ordering_key=f"s-{n}", location_id="loc-slow")).id
        for n in range(33)
    ]
    fast = [
        (await queue.enqueue("reply", {}, ordering_key=f"f-{n}", location_id="loc-fast")).id
        for n in range(3)
    ]
    queue.wake()
    # Every slot but the slow location's two is free for the others: with one shared pool the
    # 33 stalled jobs (older ids) would hold all four slots and these would never run.
    await wait_for_status(fast, JobStatus.DONE, timeout=30)
    stalled = await Job.filter(id__in=slow, status=JobStatus.RUNNING).count()
    assert stalled == 2 and peak["loc-slow"] == 2
    release.set()
    await wait_for_status(slow, JobStatus.DONE, timeout=60)
    assert peak["loc-slow"] == 2


async def test_the_share_defaults_to_a_quarter_of_the_slots() -> None:
    assert JobQueue(concurrency=32).per_location == 8
    assert JobQueue(concurrency=2).per_location == 1
    assert JobQueue(concurrency=32, per_location=3).per_location == 3
