"""Failed attempts: stored, retried with backoff, parked, and retried by hand."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ghl_app.errors import AppError
from ghl_app.jobs import JobQueue, PermanentError, RetryableError
from ghl_app.models import Job, JobStatus

MakeQueue = Callable[..., Awaitable[JobQueue]]
WaitForStatus = Callable[..., Awaitable[Any]]


async def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    calls: list[datetime] = []

    async def handler(job: Job) -> None:
        calls.append(datetime.now(UTC))
        if len(calls) == 1:
            raise RetryableError("GHL answered 503")
        if len(calls) == 2:
            raise TimeoutError("read timed out")

    queue = await make_queue(handlers={"sync": handler}, base_backoff_s=0.2, max_backoff_s=0.2)
    job = await queue.enqueue("sync", {}, ordering_key="chat", location_id="loc-1")

    [done] = await wait_for_status([job.id], JobStatus.DONE)
    assert done.attempts == 3
    assert done.last_error == "TimeoutError: read timed out"
    assert done.finished_at is not None
    assert done.lease_owner is None


async def test_retry_after_from_a_rate_limit_is_honoured(
    make_queue: MakeQueue, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(job: Job) -> None:
        raise RetryableError("GHL answered 429", retry_after_s=30)

    queue = await make_queue(handlers={"sync": handler})
    before = datetime.now(UTC)
    with caplog.at_level(logging.WARNING, logger="ghl_app.jobs.queue"):
        job = await queue.enqueue("sync", {}, ordering_key="chat", location_id="loc-1")
        for _ in range(200):
            job = await Job.get(id=job.id)
            if job.attempts == 1 and job.status == JobStatus.QUEUED:
                break
            await asyncio.sleep(0.02)

    assert job.status == JobStatus.QUEUED
    assert job.last_error == "RetryableError: GHL answered 429"
    assert job.run_after >= before + timedelta(seconds=30)
    [line] = [r for r in caplog.records if "attempt 1/8 failed" in r.getMessage()]
    assert getattr(line, "job_id", None) == job.id
    assert getattr(line, "location_id", None) == "loc-1"


async def test_a_job_is_parked_after_its_last_attempt_and_retry_runs_it_again(
    make_queue: MakeQueue, wait_for_status: WaitForStatus, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = False

    async def handler(job: Job) -> None:
        if not healthy:
            raise RuntimeError("contact lookup exploded")

    queue = await make_queue(handlers={"sync": handler})
    with caplog.at_level(logging.WARNING, logger="ghl_app.jobs.queue"):
        job = await queue.enqueue(
            "sync", {}, ordering_key="chat", location_id="loc-1", max_attempts=3
        )
        [parked] = await wait_for_status([job.id], JobStatus.FAILED)
    assert parked.attempts == 3
    assert parked.last_error == "RuntimeError: contact lookup exploded"
    assert parked.finished_at is not None
    failures = [r for r in caplog.records if getattr(r, "job_id", None) == job.id]
    assert len(failures) == 3  # two retries and the park, one line each
    assert "parked as failed after 3 attempt(s)" in failures[-1].getMessage()
    assert all(getattr(r, "location_id", None) == "loc-1" for r in failures)

    assert [j.id for j in await queue.list_jobs(location_id="loc-1", status="failed")] == [job.id]

    healthy = True
    retried = await queue.retry(job.id, location_id="loc-1")
    assert retried.status == JobStatus.QUEUED
    assert retried.attempts == 0
    [done] = await wait_for_status([job.id], JobStatus.DONE)
    assert done.attempts == 1


async def test_a_permanent_error_parks_the_job_at_once_and_its_key_moves_on(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    ran: list[str] = []

    async def handler(job: Job) -> None:
        if job.payload["name"] == "bad":
            raise PermanentError("GHL rejected the contact: invalid phone")
        ran.append(job.payload["name"])

    queue = await make_queue(handlers={"sync": handler})
    bad = await queue.enqueue("sync", {"name": "bad"}, ordering_key="chat", location_id="loc-1")
    good = await queue.enqueue("sync", {"name": "good"}, ordering_key="chat", location_id="loc-1")

    [parked] = await wait_for_status([bad.id], JobStatus.FAILED)
    await wait_for_status([good.id], JobStatus.DONE)
    assert parked.attempts == 1
    assert parked.last_error == "PermanentError: GHL rejected the contact: invalid phone"
    assert ran == ["good"]


async def test_retry_is_scoped_to_the_location_and_only_takes_failed_jobs(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    async def handler(job: Job) -> None:
        if job.payload["fail"]:
            raise PermanentError("no")

    queue = await make_queue(handlers={"sync": handler})
    failed = await queue.enqueue("sync", {"fail": True}, ordering_key="a", location_id="loc-1")
    done = await queue.enqueue("sync", {"fail": False}, ordering_key="b", location_id="loc-1")
    await wait_for_status([failed.id], JobStatus.FAILED)
    await wait_for_status([done.id], JobStatus.DONE)

    with pytest.raises(AppError) as other_location:
        await queue.retry(failed.id, location_id="loc-2")
    assert (other_location.value.code, other_location.value.status) == ("job_not_found", 404)
    assert (await Job.get(id=failed.id)).status == JobStatus.FAILED

    with pytest.raises(AppError) as not_failed:
        await queue.retry(done.id, location_id="loc-1")
    assert (not_failed.value.code, not_failed.value.status) == ("job_not_failed", 409)


async def test_list_jobs_shows_only_the_locations_jobs_newest_first(
    make_queue: MakeQueue,
) -> None:
    queue = await make_queue(handlers={}, start=False)
    mine = [
        (await queue.enqueue("sync", {}, ordering_key=f"k{n}", location_id="loc-1")).id
        for n in range(3)
    ]
    await queue.enqueue("sync", {}, ordering_key="x", location_id="loc-2")

    listed = await queue.list_jobs(location_id="loc-1")
    assert [job.id for job in listed] == list(reversed(mine))
    assert [job.id for job in await queue.list_jobs(location_id="loc-1", limit=2)] == [
        mine[2],
        mine[1],
    ]
    assert await queue.list_jobs(location_id="loc-1", status=JobStatus.FAILED) == []
