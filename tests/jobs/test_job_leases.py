"""Leases: a dead worker's job is picked up again, a live one's is not, stop() loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ghl_app.jobs import JobQueue
from ghl_app.models import Job, JobStatus
from ghl_app.supervisor import TaskSupervisor

MakeQueue = Callable[..., Awaitable[JobQueue]]
WaitForStatus = Callable[..., Awaitable[Any]]


async def _abandon(job: Job, *, lease_s: float) -> datetime:
    """What a worker killed mid-job leaves behind: a running row whose lease nobody renews."""
    expires = datetime.now(UTC) + timedelta(seconds=lease_s)
    await Job.filter(id=job.id).update(
        status=JobStatus.RUNNING, lease_owner="dead-worker", lease_expires_at=expires, attempts=1
    )
    return expires


async def test_a_job_abandoned_by_a_dead_worker_runs_again_after_its_lease_expires(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    started_at: list[datetime] = []

    async def handler(job: Job) -> None:
        started_at.append(datetime.now(UTC))

    queue = await make_queue(handlers={"sync": handler}, lease_s=0.4, start=False)
    job = await queue.enqueue("sync", {}, ordering_key="chat", location_id="loc-1")
    later = await queue.enqueue("sync", {}, ordering_key="chat", location_id="loc-1")
    expires = await _abandon(job, lease_s=0.6)

    supervisor = TaskSupervisor()
    await queue.start(supervisor)
    try:
        [recovered, _] = await wait_for_status([job.id, later.id], JobStatus.DONE)
    finally:
        await queue.stop(grace_s=1)
        await supervisor.shutdown()
    assert started_at[0] >= expires
    assert len(started_at) == 2  # the later job of the key waited for the recovered one
    assert recovered.attempts == 2
    assert recovered.last_error == "worker dead-worker stopped renewing its lease mid-job"


async def test_a_job_whose_worker_keeps_dying_is_parked_after_its_last_attempt(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    async def handler(job: Job) -> None:
        raise AssertionError("a parked job must not run")

    queue = await make_queue(handlers={"sync": handler}, start=False, lease_s=0.2)
    job = await queue.enqueue("sync", {}, ordering_key="chat", max_attempts=1)
    await _abandon(job, lease_s=0.1)

    supervisor = TaskSupervisor()
    await queue.start(supervisor)
    try:
        [parked] = await wait_for_status([job.id], JobStatus.FAILED)
    finally:
        await queue.stop(grace_s=1)
        await supervisor.shutdown()
    assert parked.attempts == 1
    assert "stopped renewing its lease" in (parked.last_error or "")


async def test_a_live_worker_keeps_its_lease_while_a_handler_outlasts_it(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    runs: list[str] = []

    def handler_for(worker: str) -> Callable[[Job], Awaitable[None]]:
        async def handler(job: Job) -> None:
            runs.append(worker)
            await asyncio.sleep(2.2)  # more than two lease periods

        return handler

    first = await make_queue(handlers={"sync": handler_for("a")}, worker_id="a", lease_s=1.0)
    job = await first.enqueue("sync", {}, ordering_key="chat")
    while not runs:
        await asyncio.sleep(0.01)
    await make_queue(handlers={"sync": handler_for("b")}, worker_id="b", lease_s=1.0)

    [done] = await wait_for_status([job.id], JobStatus.DONE)
    assert runs == ["a"]
    assert done.attempts == 1


async def test_stop_hands_unfinished_jobs_back_to_the_queue_without_counting_the_attempt(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    started = asyncio.Event()
    finished: list[int] = []

    async def stuck(job: Job) -> None:
        started.set()
        await asyncio.Event().wait()

    async def quick(job: Job) -> None:
        finished.append(job.id)

    queue = await make_queue(handlers={"sync": stuck})
    job = await queue.enqueue("sync", {}, ordering_key="chat")
    await asyncio.wait_for(started.wait(), timeout=10)

    await queue.stop(grace_s=0.2)
    released = await Job.get(id=job.id)
    assert released.status == JobStatus.QUEUED
    assert released.attempts == 0
    assert released.lease_owner is None
    assert queue.running_count == 0

    await make_queue(handlers={"sync": quick})
    await wait_for_status([job.id], JobStatus.DONE)
    assert finished == [job.id]


async def test_stop_waits_for_handlers_that_finish_within_the_grace_period(
    make_queue: MakeQueue,
) -> None:
    started = asyncio.Event()

    async def slow(job: Job) -> None:
        started.set()
        await asyncio.sleep(0.3)

    queue = await make_queue(handlers={"sync": slow})
    job = await queue.enqueue("sync", {}, ordering_key="chat")
    await asyncio.wait_for(started.wait(), timeout=10)
    await queue.stop(grace_s=5)
    assert (await Job.get(id=job.id)).status == JobStatus.DONE
