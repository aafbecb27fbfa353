"""Queues on the real migrated SQLite file, started and always stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ghl_app.jobs import JobQueue
from ghl_app.models import Job, JobStatus
from ghl_app.supervisor import TaskSupervisor

MakeQueue = Callable[..., Awaitable[JobQueue]]


@pytest.fixture
async def make_queue(db: str) -> AsyncIterator[MakeQueue]:
    """`await make_queue(handlers={kind: handler}, **JobQueue kwargs)` -> a started queue."""
    supervisor = TaskSupervisor()
    queues: list[JobQueue] = []

    async def make(*, handlers: dict[str, Any], start: bool = True, **kwargs: Any) -> JobQueue:
        kwargs.setdefault("poll_s", 0.05)
        kwargs.setdefault("base_backoff_s", 0.01)
        kwargs.setdefault("max_backoff_s", 0.05)
        queue = JobQueue(**kwargs)
        for kind, handler in handlers.items():
            queue.register(kind, handler)
        if start:
            await queue.start(supervisor)
        queues.append(queue)
        return queue

    yield make
    for queue in queues:
        await queue.stop(grace_s=1)
    await supervisor.shutdown()


WaitForStatus = Callable[..., Awaitable[list[Job]]]


@pytest.fixture
def wait_for_status() -> WaitForStatus:
    """`await wait_for_status(job_ids, status, timeout=15)`: poll the table until every job
    has `status`; fail listing what they are instead."""
    return _wait_for_status


async def _wait_for_status(
    job_ids: list[int], status: JobStatus, timeout: float = 15.0
) -> list[Job]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        jobs = await Job.filter(id__in=job_ids).order_by("id")
        if len(jobs) == len(job_ids) and all(job.status == status for job in jobs):
            return jobs
        if asyncio.get_running_loop().time() > deadline:
            states = {job.id: (job.status.value, job.attempts, job.last_error) for job in jobs}
            raise AssertionError(f"jobs did not all reach {status.value}: {states}")
        await asyncio.sleep(0.02)
