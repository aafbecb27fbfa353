"""A deferred job (its location's GHL budget is spent) gives its worker back: it returns to the
queue untried, later jobs of other keys run meanwhile, and deferrals never use up attempts."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ghl_app.jobs import JobQueue
from ghl_app.jobs.errors import Deferred
from ghl_app.models import Job, JobStatus

MakeQueue = Callable[..., Awaitable[JobQueue]]
WaitForStatus = Callable[..., Awaitable[Any]]


async def test_a_deferred_job_frees_its_worker_for_another_key_and_runs_later(
    make_queue: MakeQueue, wait_for_status: WaitForStatus, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[tuple[str, datetime]] = []

    async def handler(job: Job) -> None:
        name = job.payload["name"]
        ran.append((name, datetime.now(UTC)))
        if name == "busy" and len([n for n, _ in ran if n == "busy"]) == 1:
            raise Deferred("no budget left for loc-busy", after_s=0.5)

    # One worker: if the deferred job slept in its slot, "other" could not run before it.
    queue = await make_queue(handlers={"sync": handler}, concurrency=1)
    with caplog.at_level(logging.WARNING, logger="ghl_app.jobs.queue"):
        busy = await queue.enqueue("sync", {"name": "busy"}, ordering_key="a", location_id="l1")
        other = await queue.enqueue("sync", {"name": "other"}, ordering_key="b", location_id="l2")
        done = await wait_for_status([busy.id, other.id], JobStatus.DONE)

    assert [name for name, _ in ran] == ["busy", "other", "busy"]
    first_busy, other_at, second_busy = (at for _, at in ran)
    assert (other_at - first_busy).total_seconds() < 0.4  # not after the deferral's 0.5 s
    assert (second_busy - first_busy).total_seconds() >= 0.45
    assert [job.attempts for job in done] == [1, 1]  # the deferral was not an attempt
    assert done[0].last_error is None
    assert caplog.records == []  # not a failure: nothing for an operator


async def test_deferrals_never_use_up_attempts(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    calls = 0

    async def handler(job: Job) -> None:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise Deferred("no budget", after_s=0.01)

    queue = await make_queue(handlers={"sync": handler})
    job = await queue.enqueue("sync", {}, ordering_key="chat", location_id="l1", max_attempts=2)
    [done] = await wait_for_status([job.id], JobStatus.DONE)
    assert calls == 5 and done.attempts == 1


async def test_a_deferred_job_keeps_its_place_before_later_jobs_of_its_key(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    order: list[int] = []

    async def handler(job: Job) -> None:
        seq = job.payload["seq"]
        if seq == 0 and 0 not in order and not getattr(handler, "deferred", False):
            handler.deferred = True  # type: ignore[attr-defined]
            raise Deferred("no budget", after_s=0.2)
        order.append(seq)

    queue = await make_queue(handlers={"sync": handler}, concurrency=4)
    jobs = [
        await queue.enqueue("sync", {"seq": n}, ordering_key="chat", location_id="l1")
        for n in range(3)
    ]
    await wait_for_status([job.id for job in jobs], JobStatus.DONE)
    assert order == [0, 1, 2]
