"""One busy location cannot hold every worker while it waits for its GHL budget: its jobs are
deferred and the other locations' messages go out meanwhile (the chain the bridge jobs use:
client call -> BudgetSpent -> job_error -> Deferred -> the queue)."""

from __future__ import annotations

import asyncio

from conftest import seed_location

from ghl_app.bridge._errors import job_error
from ghl_app.demo.fake_ghl import FakeGhl
from ghl_app.ghl.http import GhlApiError
from ghl_app.ghl.integration import GhlIntegration
from ghl_app.jobs import JobQueue
from ghl_app.models import Job, JobStatus
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor


async def test_a_busy_location_waiting_for_budget_does_not_starve_another(
    fake_ghl: FakeGhl, settings: Settings, db: str
) -> None:
    await seed_location(fake_ghl, settings, "loc-busy")
    await seed_location(fake_ghl, settings, "loc-quiet")
    # 3 calls per 4 s per location; a call waits at most 0.3 s for budget.
    ghl = GhlIntegration(settings, rate_limit=(3, 4.0), budget_wait_s=0.3)
    delivered: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()

    async def send(job: Job) -> None:
        location = str(job.location_id)
        try:
            await ghl.client.find_contact_by_phone(location, job.payload["phone"])
        except GhlApiError as exc:
            raise job_error(exc) from exc
        delivered.append((location, loop.time()))

    queue = JobQueue(concurrency=2, poll_s=0.05)
    queue.register("send", send)
    busy = [
        await queue.enqueue(
            "send", {"phone": f"+55119000{n:05d}"}, ordering_key=f"busy-{n}", location_id="loc-busy"
        )
        for n in range(8)
    ]
    quiet = [
        await queue.enqueue(
            "send",
            {"phone": f"+55119111{n:05d}"},
            ordering_key=f"quiet-{n}",
            location_id="loc-quiet",
        )
        for n in range(2)
    ]
    supervisor = TaskSupervisor()
    started = loop.time()
    await queue.start(supervisor)
    try:
        async with asyncio.timeout(30):
            while await Job.filter(status=JobStatus.DONE).count() < len(busy) + len(quiet):
                await asyncio.sleep(0.05)
    finally:
        await queue.stop(grace_s=1)
        await supervisor.shutdown()
        await ghl.aclose()

    quiet_done = [at - started for location, at in delivered if location == "loc-quiet"]
    busy_done = [at - started for location, at in delivered if location == "loc-busy"]
    assert len(quiet_done) == 2 and len(busy_done) == 8
    # The quiet location went out inside the busy one's first window, not after its backlog.
    assert max(quiet_done) < 2.0
    assert sorted(busy_done)[3] > 3.5  # the busy location really waited for its next window
    calls = fake_ghl.calls_to("/contacts/search/duplicate")
    assert [c.status for c in calls].count(429) == 0
    assert await Job.filter(status=JobStatus.FAILED).count() == 0
    assert all(job.attempts == 1 for job in await Job.all())  # deferrals were not attempts
