"""The bridge benchmark's rig: a migrated SQLite file, the real JobQueue, InboundBridge and
GhlClient, and the fake GHL in its own process (`bench/_remote_fake.py`)."""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tortoise import Tortoise

sys.path.insert(0, "tests")
sys.path.insert(0, ".")

from bridge.conftest import seed_location

from bench._remote_fake import RemoteFake
from connectors.events import Message as WaMessage
from ghl_app.bridge.inbound import InboundBridge
from ghl_app.bridge.media.links import MediaLinks
from ghl_app.bus import InProcessEventBus
from ghl_app.db import tortoise_config
from ghl_app.ghl.integration import BUDGET_WAIT_S, GhlIntegration
from ghl_app.jobs import JobQueue
from ghl_app.models import Contact, Instance, InstanceStatus
from ghl_app.sessions import SessionManager
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor
from support.app_server import test_settings


@dataclass
class RigOptions:
    # None: jobs sleep on their location's budget (the behaviour before deferral, `--no-defer`).
    budget_wait_s: float | None = BUDGET_WAIT_S
    concurrency: int = 0  # JOB_CONCURRENCY for the run; 0: the setting's default


OPTIONS = RigOptions()


def cpu_s() -> float:
    """CPU seconds of this process, every thread (the event loop and aiosqlite's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Rig:
    fake: RemoteFake
    bridge: InboundBridge
    instances: dict[str, uuid.UUID]  # location -> instance
    queue: JobQueue
    supervisor: TaskSupervisor
    sent: dict[str, float] = field(default_factory=dict)  # WhatsApp id -> store() called
    serial: int = 0

    def event(self, location_id: str, chat: int) -> WaMessage:
        self.serial += 1
        # A valid Brazilian mobile per (location, chat): 55 11 9 + 8 digits.
        phone = f"55119{list(self.instances).index(location_id):02d}{chat:06d}"
        return WaMessage(
            instance_id=str(self.instances[location_id]),
            id=f"WA{self.serial:08d}{uuid.uuid4().hex[:8].upper()}",
            serialized_id="",
            chat_id=f"{phone}@c.us",
            from_me=False,
            type="chat",
            body=f"hello {self.serial}",
            caption=None,
            mimetype=None,
            filename=None,
            size=None,
            timestamp=datetime.now(UTC),
            is_group=False,
            author=None,
            notify_name=f"Customer {chat}",
            quoted_id=None,
            sender_phone=f"+{phone}",
        )

    async def store(self, location_id: str, chat: int) -> str:
        event = self.event(location_id, chat)
        self.sent[event.id] = time.perf_counter()
        stored = await self.bridge.store(self.instances[location_id], location_id, event)
        assert stored, "the bridge dropped a fresh message"
        return event.id

    async def wait_received(self, ids: list[str], timeout: float = 300) -> None:
        # Polled at 20 Hz against a shrinking set: the waiting must not cost the measured
        # process noticeable CPU (scanning every id each time did, on long runs).
        missing = set(ids)
        async with asyncio.timeout(timeout):
            while True:
                await self.fake.poll_received()
                missing.difference_update(self.fake.received)
                if not missing:
                    return
                await asyncio.sleep(0.05)

    def latencies_ms(self, ids: list[str]) -> list[float]:
        return [(self.fake.received[i] - self.sent[i]) * 1000 for i in ids]

    async def rejected_by_limit(self) -> int:
        return sum(1 for _, _, status, _ in await self.fake.call_log() if status == 429)


@asynccontextmanager
async def rig(
    *,
    locations: list[str],
    limiter: tuple[int, float] | None,
    fake_limit: tuple[int, float],
    start_queue: bool = True,
    ghl_latency_s: float = 0.0,
) -> AsyncIterator[Rig]:
    with tempfile.TemporaryDirectory() as tmp:
        fake = RemoteFake(fake_limit, ghl_latency_s)
        try:
            settings: Settings = test_settings(
                tmp,
                GHL_API_URL=fake.url,
                GHL_MARKETPLACE_URL=fake.url,
                **({"JOB_CONCURRENCY": str(OPTIONS.concurrency)} if OPTIONS.concurrency else {}),
            )
            for location_id in locations:
                await seed_location(settings, fake, location_id)  # type: ignore[arg-type]
            await Tortoise.init(config=tortoise_config(settings.database_url))
            supervisor = TaskSupervisor()
            integration = GhlIntegration(
                settings,
                limiter_enabled=limiter is not None,
                rate_limit=limiter or (100, 10.0),
                budget_wait_s=OPTIONS.budget_wait_s,
            )
            # As in ghl_app/services.py: the production queue settings and wiring.
            queue = JobQueue(
                lease_s=settings.job_lease_seconds, concurrency=settings.job_concurrency
            )
            sessions = SessionManager(settings, InProcessEventBus(), supervisor)
            bridge = InboundBridge(
                queue=queue,
                client=integration.client,
                sessions=sessions,
                provider_id=settings.ghl_conversation_provider_id,
                media_links=MediaLinks(
                    settings.media_dir,
                    public_url=settings.public_url,
                    app_secret=settings.app_secret,
                    retention=timedelta(days=settings.media_retention_days),
                ),
            )
            instances: dict[str, uuid.UUID] = {}
            for location_id in locations:
                instance = await Instance.create(
                    location_id=location_id, name="Main", status=InstanceStatus.CONNECTED
                )
                instances[location_id] = instance.id
            if start_queue:
                await queue.start(supervisor)
            try:
                yield Rig(
                    fake=fake,
                    bridge=bridge,
                    instances=instances,
                    queue=queue,
                    supervisor=supervisor,
                )
            finally:
                await queue.stop(grace_s=1)
                await supervisor.shutdown()
                await integration.aclose()
                await Tortoise.close_connections()
        finally:
            await fake.aclose()


async def premap_chats(rig_: Rig, location_id: str, chats: int) -> None:
    """Contacts already mapped to GHL: every message then costs exactly one GHL call."""
    for chat in range(chats):
        event = rig_.event(location_id, chat)
        await Contact.create(
            location_id=location_id,
            chat_id=event.chat_id,
            phone_e164=event.sender_phone,
            name=event.notify_name,
            ghl_contact_id=f"contact-{location_id}-{chat}",
            ghl_conversation_id=f"conv-{location_id}-{chat}",
            last_instance_id=rig_.instances[location_id],
        )
