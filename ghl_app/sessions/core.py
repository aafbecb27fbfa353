"""The session manager's core: the per-instance sessions and locks, engine lifecycle, and rows.

`SessionManager` (manager.py) adds the commands and engine events on top, `SessionBoot`
(boot.py) the boot-time restore and shutdown. Error codes the page shows are raised in
manager.py only (tests/page reads them from there).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from connectors.base import Engine, EngineFactory
from connectors.events import EngineEvent, EventSink
from ghl_app.bus import EventBus
from ghl_app.models import Instance, InstanceStatus
from ghl_app.sessions.engines import PlaywrightEngines
from ghl_app.sessions.profiles import ProfileSnapshots, open_store
from ghl_app.sessions.state import LockEntry, Session, instance_snapshot
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor

log = logging.getLogger("ghl_app.sessions.manager")

MessageListener = Callable[[uuid.UUID, str, EngineEvent], Awaitable[None]]
# (the instance after the change, its status before): workflow triggers, alerts.
StatusListener = Callable[[Instance, InstanceStatus], Awaitable[None]]

S = InstanceStatus


class SessionCore(abc.ABC):
    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        supervisor: TaskSupervisor,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        self.settings = settings
        self._bus = bus
        self._supervisor = supervisor
        self._factory = engine_factory
        self._playwright = PlaywrightEngines(settings) if engine_factory is None else None
        self._sessions: dict[uuid.UUID, Session] = {}
        self._locks: dict[uuid.UUID, LockEntry] = {}
        self._listeners: list[MessageListener] = []
        self._status_listeners: list[StatusListener] = []
        self._restore_task: asyncio.Task[None] | None = None
        self._closing = False
        # Told how many messages each catch-up read back (the metrics); numbers catching up now.
        self.catch_up_observers: list[Callable[[int], None]] = []
        self.catching_up: set[uuid.UUID] = set()
        # Login snapshots in a profile store, when one is set (issue 17, portable profiles).
        self.snapshots: ProfileSnapshots | None = None
        self._snapshot_keepers: dict[uuid.UUID, asyncio.Task[None]] = {}
        if settings.profile_store:
            self.snapshots = ProfileSnapshots(
                open_store(settings.profile_store),
                settings.app_secret,
                settings.profile_snapshot_seconds,
            )

    def add_status_listener(self, listener: StatusListener) -> None:
        self._status_listeners.append(listener)

    def profile_dir(self, instance_id: uuid.UUID) -> Path:
        return self.settings.profiles_dir / str(instance_id)

    async def announce(self, instance: Instance) -> None:
        """Publish a change made outside the manager (a rename) to the page's subscribers."""
        await self._bus.publish(
            f"instance:{instance.id}", {"type": "instance", "instance": instance_snapshot(instance)}
        )

    # -- engine lifecycle -------------------------------------------------------------------

    async def _launch(self, session: Session) -> None:
        if session.engine is None:
            session.engine = await self._build(session)
        await session.engine.start()
        session.launches += 1
        log.info("engine started", extra=session.log_extra)
        self._spawn(session, "ready-watch", self._watch_ready(session, session.launches))

    @abc.abstractmethod
    async def _watch_ready(self, session: Session, launch: int) -> None: ...

    def _keep_snapshots(self, session: Session) -> None:
        """Connected: snapshot the login soon, then periodically, while this session lasts."""
        if self.snapshots is None:
            return
        profile = self.profile_dir(session.instance_id)
        previous = self._snapshot_keepers.pop(session.instance_id, None)
        if previous is not None:
            previous.cancel()
        self._snapshot_keepers[session.instance_id] = self._spawn(
            session,
            "snapshots",
            self.snapshots.keep(session.location_id, session.instance_id, profile),
        )

    async def _build(self, session: Session) -> Engine:
        iid = str(session.instance_id)
        profile = self.profile_dir(session.instance_id)
        # A profile without a login (a new disk, another worker) gets the latest snapshot's.
        if self.snapshots is not None and await self.snapshots.restore(
            session.location_id, session.instance_id, profile
        ):
            session.linked = True
        sink = self._sink_for(session)
        if self._playwright is not None:
            return await self._playwright.build(iid, profile, sink)
        assert self._factory is not None
        return self._factory(iid, profile, sink)

    async def _dispose(self, session: Session) -> None:
        """Forget a session and stop its engine (profile kept). Caller holds the lock."""
        session.closing = True
        if self._sessions.get(session.instance_id) is session:
            del self._sessions[session.instance_id]
        self._cancel_tasks(session)
        await self._stop_engine(session)

    async def _stop_engine(self, session: Session) -> None:
        if session.engine is None:
            return
        try:
            await session.engine.stop()
        except Exception:
            log.exception("engine stop failed", extra=session.log_extra)
            return
        if self.snapshots is not None and session.linked:
            # The browser is closed: its files are complete now, the best snapshot there is.
            profile = self.profile_dir(session.instance_id)
            await self.snapshots.save(session.location_id, session.instance_id, profile)

    async def _logout_locked(self, iid: uuid.UUID, location_id: str) -> None:
        session = self._sessions.pop(iid, None)
        if session is not None and session.engine is not None:
            session.closing = True
            self._cancel_tasks(session)
            try:
                await session.engine.logout()
            except Exception:
                log.exception("engine logout failed", extra=session.log_extra)
        await asyncio.to_thread(shutil.rmtree, self.profile_dir(iid), True)
        if self.snapshots is not None:
            await self.snapshots.forget(location_id, iid)

    async def _give_up(self, session: Session, message: str) -> None:
        log.warning("session failed: %s", message, extra=session.log_extra)
        await self._dispose(session)
        await self._write(session.instance_id, status=S.FAILED, last_error=message)

    def _cancel_tasks(self, session: Session) -> None:
        current = asyncio.current_task()
        keeper = self._snapshot_keepers.pop(session.instance_id, None)
        for task in (session.qr_timer, session.recovery, keeper):
            if task is not None and task is not current:
                task.cancel()
        session.qr_timer = session.recovery = None

    def _spawn(
        self, session: Session, what: str, coro: Coroutine[Any, Any, None]
    ) -> asyncio.Task[None]:
        return self._supervisor.spawn(f"session-{what}:{session.instance_id}", coro)

    @asynccontextmanager
    async def _locked(self, iid: uuid.UUID) -> AsyncIterator[None]:
        # Entries live only while someone holds or awaits them, so the map never only grows.
        entry = self._locks.setdefault(iid, LockEntry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[iid]

    # -- engine events (handled by SessionManager) ---------------------------------------------

    def _sink_for(self, session: Session) -> EventSink:
        async def sink(event: EngineEvent) -> None:
            await self._on_event(session, event)

        return sink

    def _is_current(self, session: Session) -> bool:
        return not session.closing and self._sessions.get(session.instance_id) is session

    @abc.abstractmethod
    async def _on_event(self, session: Session, event: EngineEvent) -> None:
        """Implemented by SessionManager (manager.py)."""

    # -- rows and the bus ---------------------------------------------------------------------

    async def _set(self, session: Session, **fields: Any) -> None:
        if not self._is_current(session):
            return
        if "status" in fields:
            session.status = fields["status"]
        await self._write(session.instance_id, **fields)

    async def _write(self, iid: uuid.UUID, **fields: Any) -> Instance | None:
        instance = await Instance.get_or_none(id=iid)
        if instance is None:
            return None  # deleted meanwhile
        previous = instance.status
        for name, value in fields.items():
            setattr(instance, name, value)
        await instance.save(update_fields=[*fields, "updated_at"])
        if "status" in fields:
            log.info(
                "status %s",
                instance.status,
                extra={"instance_id": str(iid), "location_id": instance.location_id},
            )
        await self.announce(instance)
        if "status" in fields and instance.status != previous:
            for listener in self._status_listeners:
                try:
                    await listener(instance, previous)
                except Exception:
                    log.exception(
                        "status listener failed",
                        extra={"instance_id": str(iid), "location_id": instance.location_id},
                    )
        return instance
