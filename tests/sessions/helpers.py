"""Helpers for session tests (also used by tests/api): instances, the fake phone, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from connectors.playwright_engine import PlaywrightEngine
from ghl_app.bus import InProcessEventBus
from ghl_app.models import Instance, InstanceStatus, Location
from ghl_app.sessions import SessionManager
from support.wa_fixture import FakeWhatsApp

ManagerMaker = Callable[..., SessionManager]


async def new_instance(location_id: str = "loc-a", name: str = "Sales") -> Instance:
    await Location.get_or_create(
        location_id=location_id, defaults={"installed_at": datetime.now(UTC)}
    )
    return await Instance.create(location_id=location_id, name=name)


def fake_phone(manager: SessionManager, instance_id: uuid.UUID) -> FakeWhatsApp:
    engine = manager.engine_for(instance_id)
    assert engine is not None, "no running engine"
    return FakeWhatsApp(cast(PlaywrightEngine, engine).page)


async def wait_status(
    instance_id: uuid.UUID, status: InstanceStatus, timeout: float = 15.0
) -> Instance:
    """Poll the row (the source of truth the page reads) until it reaches `status`."""
    async with asyncio.timeout(timeout):
        while True:
            instance = await Instance.get(id=instance_id)
            if instance.status is status:
                return instance
            await asyncio.sleep(0.05)


class BusRecorder:
    """Everything published on one instance's topic."""

    def __init__(self, manager: SessionManager, instance_id: uuid.UUID) -> None:
        self.events: list[dict[str, Any]] = []
        bus = cast(InProcessEventBus, manager._bus)
        self._subscription = bus.subscribe(f"instance:{instance_id}")
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for event in self._subscription:
            self.events.append(event)

    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    async def close(self) -> None:
        self._task.cancel()
        self._subscription.close()


Waiter = Callable[..., Awaitable[Instance]]


async def login_saved_on_disk(profile_dir: Path, timeout: float = 20.0) -> None:
    """Wait until the fixture's login is written into the profile on disk.

    Chromium commits localStorage a few seconds after a change (WhatsApp Web's IndexedDB is
    similar): a browser killed before that loses a login made just before, as in real life.
    """
    needle = b"fake-wa:linked"
    async with asyncio.timeout(timeout):
        while True:
            for path in profile_dir.glob("**/Local Storage/leveldb/*"):
                with contextlib.suppress(OSError):
                    if needle in path.read_bytes():
                        return
            await asyncio.sleep(0.2)
