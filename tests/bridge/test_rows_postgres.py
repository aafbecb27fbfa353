"""The bridge's and the queue's plain-SQL statements on PostgreSQL: `?` placeholders become
`$n`, and every value written as text reads back through the ORM as the ORM wrote it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ghl_app.bridge import _rows
from ghl_app.bridge.contacts import local_contact
from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.jobs import JobQueue, _store
from ghl_app.models import (
    Contact,
    Direction,
    Instance,
    Job,
    JobStatus,
    Location,
    Message,
    MessageStatus,
    Origin,
)


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[str]:
    EXECUTOR_CACHE.clear()  # compiled INSERTs are cached per connection name, not dialect
    await apply_migrations(postgres_url)
    await Tortoise.init(config=tortoise_config(postgres_url))
    try:
        yield postgres_url
    finally:
        await Tortoise.close_connections()
        EXECUTOR_CACHE.clear()


@pytest.mark.postgres
async def test_a_message_is_stored_claimed_synced_and_done_on_postgres(pg: str) -> None:
    await Location.create(location_id="loc-pg")
    instance = await Instance.create(location_id="loc-pg", name="Main")
    ana = {"sender_phone": None, "name": "Ana", "is_group": False, "instance_id": instance.id}
    contact_id = (await local_contact("loc-pg", "5511987654321@c.us", **ana)).id
    assert contact_id == (await local_contact("loc-pg", "5511987654321@c.us", **ana)).id
    await Contact.filter(id=contact_id).update(ghl_contact_id="c-1", ghl_conversation_id="v-1")
    sent_at = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    queue = JobQueue()

    async def insert(conn: BaseDBAsyncClient) -> int:
        return await _rows.insert_received(
            conn,
            instance_id=instance.id,
            location_id="loc-pg",
            contact_id=contact_id,
            direction=Direction.INBOUND,
            origin=Origin.WHATSAPP,
            wa_message_id="WA1",
            body="olá",
            media={"kind": "image", "supported": True},
            sent_at=sent_at,
        )

    async with in_transaction() as conn:
        message_id = await insert(conn)
        job = await queue.enqueue(
            "sync",
            {"message_id": message_id},
            ordering_key="k",
            location_id="loc-pg",
            using_db=conn,
        )
    with pytest.raises(IntegrityError):  # a double emit is one row
        async with in_transaction() as conn:
            await insert(conn)

    stored = await Message.get(id=message_id)
    assert (stored.instance_id, stored.media, stored.sent_at) == (
        instance.id,
        {"kind": "image", "supported": True},
        sent_at,
    )
    assert (await Job.get(id=job.id)).payload == {"message_id": message_id}

    row = await _rows.load_for_sync(message_id, "loc-pg")
    assert row is not None
    assert (row.instance_id, row.media, row.sent_at, row.ghl_conversation_id) == (
        instance.id,
        {"kind": "image", "supported": True},
        sent_at,
        "v-1",
    )
    assert await _rows.load_for_sync(message_id, "another-location") is None

    now = datetime.now(UTC)
    [claimed] = await _store.claim(
        worker_id="w",
        kinds=["sync"],
        limit=5,
        now=now,
        lease_until=now + timedelta(seconds=60),
        per_location=8,
    )
    assert claimed.id == job.id and claimed.attempts == 1
    assert await _store.defer(job.id, lease_owner="w", run_after=now, now=now)
    [again] = await _store.claim(
        worker_id="w",
        kinds=["sync"],
        limit=5,
        now=now,
        lease_until=now + timedelta(seconds=60),
        per_location=8,
    )
    assert again.attempts == 1  # the deferral gave its attempt back
    await _rows.mark_synced(message_id, "ghl-1")
    await _rows.record_error(message_id, "x" * 900)
    assert await _store.complete([job.id], worker_id="w", now=now) == 1
    synced = await Message.get(id=message_id)
    assert (synced.status, synced.ghl_message_id, len(synced.error or "")) == (
        MessageStatus.SYNCED,
        "ghl-1",
        500,
    )
    assert (await Job.get(id=job.id)).status == JobStatus.DONE
    assert uuid.UUID(str(instance.id)) == synced.instance_id


@pytest.mark.postgres
async def test_no_location_claims_more_than_its_share_of_running_jobs_on_postgres(pg: str) -> None:
    queue = JobQueue()
    for key in range(5):
        await queue.enqueue("sync", {}, ordering_key=f"slow-{key}", location_id="loc-slow")
    await queue.enqueue("sync", {}, ordering_key="fast-0", location_id="loc-fast")
    await queue.enqueue("sync", {}, ordering_key="upkeep", location_id=None)
    now = datetime.now(UTC)

    async def claim() -> list[str | None]:
        jobs = await _store.claim(
            worker_id="w",
            kinds=["sync"],
            limit=10,
            now=now,
            lease_until=now + timedelta(seconds=60),
            per_location=2,
        )
        return sorted(job.location_id or "-" for job in jobs)

    assert await claim() == ["-", "loc-fast", "loc-slow", "loc-slow"]
    assert await claim() == []  # loc-slow already runs its two, on any worker
    [running] = await Job.filter(location_id="loc-slow", status=JobStatus.RUNNING).limit(1)
    assert await _store.complete([running.id], worker_id="w", now=now) == 1
    assert await claim() == ["loc-slow"]
