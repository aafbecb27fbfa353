"""Per-key order, cross-key parallelism, and the transaction contract of enqueue."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise.transactions import in_transaction

from ghl_app.jobs import JobQueue, PermanentError, RetryableError
from ghl_app.models import Job, JobStatus

MakeQueue = Callable[..., Awaitable[JobQueue]]
WaitForStatus = Callable[..., Awaitable[Any]]


async def test_jobs_of_one_key_run_in_id_order_and_never_overlap_across_many_keys(
    make_queue: MakeQueue,
    wait_for_status: WaitForStatus,
) -> None:
    rng = random.Random(7)
    seen: dict[str, list[int]] = {}
    in_flight: set[str] = set()
    overlaps: list[str] = []
    peak = 0
    failed_once: set[int] = set()

    async def handler(job: Job) -> None:
        nonlocal peak
        key = job.ordering_key
        if key in in_flight:
            overlaps.append(key)
        in_flight.add(key)
        peak = max(peak, len(in_flight))
        try:
            await asyncio.sleep(rng.uniform(0, 0.004))
            # Some heads fail once: their key must wait for the retry, not skip ahead.
            if job.payload["seq"] % 4 == 1 and job.id not in failed_once:
                failed_once.add(job.id)
                raise RetryableError("flaky")
            seen.setdefault(key, []).append(job.payload["seq"])
        finally:
            in_flight.discard(key)

    queue = await make_queue(handlers={"sync": handler}, concurrency=8)
    ids = []
    # Each key's jobs are contiguous ids: the oldest `concurrency` queued jobs all share a key,
    # so a queue that only looked at ids would run them together.
    for chat in range(20):
        for seq in range(12):
            job = await queue.enqueue("sync", {"seq": seq}, ordering_key=f"chat-{chat}")
            ids.append(job.id)

    await wait_for_status(ids, JobStatus.DONE, timeout=60)
    assert overlaps == []
    assert seen == {f"chat-{chat}": list(range(12)) for chat in range(20)}
    assert peak > 1  # the keys really did run side by side
    assert len(failed_once) == 20 * 3


async def test_different_keys_run_in_parallel_up_to_concurrency(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    # Four handlers can only get past the barrier together: a serial queue would time out.
    barrier = asyncio.Barrier(4)
    running = 0
    peak = 0

    async def handler(job: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            if job.payload["wait"]:
                await asyncio.wait_for(barrier.wait(), timeout=10)
            else:
                await asyncio.sleep(0.2)
        finally:
            running -= 1

    queue = await make_queue(handlers={"sync": handler}, concurrency=4)
    waiters = [
        (await queue.enqueue("sync", {"wait": True}, ordering_key=f"chat-{n}")).id for n in range(4)
    ]
    await wait_for_status(waiters, JobStatus.DONE)

    others = [
        (await queue.enqueue("sync", {"wait": False}, ordering_key=f"other-{n}")).id
        for n in range(10)
    ]
    await wait_for_status(others, JobStatus.DONE)
    assert peak == 4


async def test_a_later_job_waits_while_the_earlier_job_of_its_key_is_backing_off(
    make_queue: MakeQueue,
    wait_for_status: WaitForStatus,
) -> None:
    order: list[str] = []
    attempts = 0

    async def handler(job: Job) -> None:
        nonlocal attempts
        if job.payload["name"] == "first":
            attempts += 1
            if attempts == 1:
                raise RetryableError("429", retry_after_s=0.5)
        order.append(job.payload["name"])

    queue = await make_queue(handlers={"sync": handler})
    first = await queue.enqueue("sync", {"name": "first"}, ordering_key="chat")
    second = await queue.enqueue("sync", {"name": "second"}, ordering_key="chat")
    elsewhere = await queue.enqueue("sync", {"name": "elsewhere"}, ordering_key="other")

    await wait_for_status([first.id, second.id, elsewhere.id], JobStatus.DONE)
    assert order.index("first") < order.index("second")
    assert order[0] == "elsewhere"  # another key was not held up by the backoff


async def test_enqueue_inside_a_rolled_back_transaction_leaves_no_job(
    make_queue: MakeQueue,
    wait_for_status: WaitForStatus,
) -> None:
    ran: list[int] = []

    async def handler(job: Job) -> None:
        ran.append(job.id)

    queue = await make_queue(handlers={"sync": handler})

    class Abort(Exception):
        pass

    try:
        async with in_transaction() as connection:
            await queue.enqueue("sync", {"n": 1}, ordering_key="chat", using_db=connection)
            raise Abort
    except Abort:
        pass
    queue.wake()

    async with in_transaction() as connection:
        kept = await queue.enqueue("sync", {"n": 2}, ordering_key="chat", using_db=connection)
    queue.wake()

    await wait_for_status([kept.id], JobStatus.DONE)
    assert await Job.all().count() == 1
    assert ran == [kept.id]


async def test_jobs_of_an_unregistered_kind_wait_until_a_handler_is_registered(
    make_queue: MakeQueue,
    wait_for_status: WaitForStatus,
) -> None:
    async def handler(job: Job) -> None:
        return None

    queue = await make_queue(handlers={})
    job = await queue.enqueue("later", {}, ordering_key="chat")
    await asyncio.sleep(0.3)
    assert (await Job.get(id=job.id)).status == JobStatus.QUEUED

    queue.register("later", handler)
    await wait_for_status([job.id], JobStatus.DONE)


async def test_a_retried_job_waits_for_the_running_job_of_its_key_then_runs_before_later_ones(
    make_queue: MakeQueue, wait_for_status: WaitForStatus
) -> None:
    release_second = asyncio.Event()
    second_started = asyncio.Event()
    events: list[str] = []
    broken = True

    async def handler(job: Job) -> None:
        name = job.payload["name"]
        if name == "first" and broken:
            raise PermanentError("GHL rejected it")
        events.append(f"start {name}")
        if name == "second":
            second_started.set()
            await release_second.wait()
        events.append(f"end {name}")

    queue = await make_queue(handlers={"sync": handler})
    first = await queue.enqueue("sync", {"name": "first"}, ordering_key="chat", location_id="l")
    second = await queue.enqueue("sync", {"name": "second"}, ordering_key="chat", location_id="l")
    third = await queue.enqueue("sync", {"name": "third"}, ordering_key="chat", location_id="l")
    await wait_for_status([first.id], JobStatus.FAILED)
    await asyncio.wait_for(second_started.wait(), timeout=10)

    broken = False
    await queue.retry(first.id, location_id="l")
    await asyncio.sleep(0.3)  # several polls: the retried job must not start beside "second"
    assert events == ["start second"]

    release_second.set()
    await wait_for_status([first.id, second.id, third.id], JobStatus.DONE)
    assert events == [
        "start second",
        "end second",
        "start first",
        "end first",
        "start third",
        "end third",
    ]
