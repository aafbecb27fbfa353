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
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from connectors.base import Engine, EngineError, EngineFactory
from connectors.events import EngineEvent, EventSink
from ghl_app.bus import EventBus
from ghl_app.models import Instance, InstanceStatus
from ghl_app.sessions.engines import PlaywrightEngines
from ghl_app.sessions.profiles import ProfileSnapshots, open_store
from ghl_app.sessions.state import LockEntry, Session, instance_snapshot
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor

if TYPE_CHECKING:
    from ghl_app.cluster.leases import Leases

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
        # A worker of a scaled-out deployment runs each instance under a lease (issue 17,
        # ghl_app/cluster): set by the worker; None in a single process.
        self.leases: Leases | None = None
        self.hold_s = 0.0  # how long after a renewal began this process may act on a lease
        # Another worker's engine, for an instance this worker does not run (None: no cluster).
        self.remote_engine: Callable[[uuid.UUID], Awaitable[Engine | None]] | None = None
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
        await self._hold_page(session)
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

    async def _dispose(self, session: Session, *, release: bool = True) -> None:
        """Forget a session and stop its engine (profile kept). Caller holds the lock.

        `release` False: the caller writes the instance's new status first and lets go of the
        lease after (`_let_go`): a lease let go while the row still says `connected` makes the
        instance an orphan another worker would start again."""
        session.closing = True
        if self._sessions.get(session.instance_id) is session:
            del self._sessions[session.instance_id]
        self._cancel_tasks(session)
        await self._stop_engine(session)
        if release:
            await self._let_go(session)

    async def _stop_engine(self, session: Session) -> None:
        if session.engine is None:
            return
        try:
            await session.engine.stop()
        except Exception:
            log.exception("engine stop failed", extra=session.log_extra)
            return
        if self.snapshots is not None and session.linked and not session.lost:
            # The browser is closed: its files are complete now, the best snapshot there is.
            profile = self.profile_dir(session.instance_id)
            await self.snapshots.save(session.location_id, session.instance_id, profile)

    async def _logout_locked(self, iid: uuid.UUID, location_id: str) -> Session | None:
        """Unlink and wipe; the caller writes the new status, then lets go of the lease."""
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
        return session

    async def _give_up(self, session: Session, message: str) -> None:
        log.warning("session failed: %s", message, extra=session.log_extra)
        await self._dispose(session, release=False)
        await self._write(session.instance_id, status=S.FAILED, last_error=message)
        await self._let_go(session)

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
        return (
            not session.closing
            and self._sessions.get(session.instance_id) is session
            and session.lease_until > time.monotonic()
        )

    @abc.abstractmethod
    async def _on_event(self, session: Session, event: EngineEvent) -> None:
        """Implemented by SessionManager (manager.py)."""

    # -- rows and the bus ---------------------------------------------------------------------

    async def _set(self, session: Session, **fields: Any) -> None:
        if not self._is_current(session):
            return
        if "status" in fields:
            session.status = fields["status"]
        if self.leases is None or session.epoch is None:
            await self._write(session.instance_id, **fields)
            return
        # A worker writes for an instance only under the lease it holds: checked and written
        # in one transaction, the lease row share-locked, so a taker waits for this write to
        # end and a stale owner's write never lands after it (issue 17, fencing).
        changed: tuple[Instance, InstanceStatus] | None = None
        async with in_transaction() as db:
            if not await self.leases.holds(db, session.instance_id, session.epoch):
                fenced = True
            else:
                fenced = False
                changed = await self._save(session.instance_id, fields, db)
        if fenced:
            log.warning("write refused: the lease was lost", extra=session.log_extra)
            self._supervisor.spawn(
                f"session-lost:{session.instance_id}", self._lose(session, release=False)
            )
        elif changed is not None:
            await self._after_write(changed[0], changed[1], fields)

    async def _write(self, iid: uuid.UUID, **fields: Any) -> Instance | None:
        changed = await self._save(iid, fields)
        if changed is None:
            return None  # deleted meanwhile
        await self._after_write(changed[0], changed[1], fields)
        return changed[0]

    async def _save(
        self, iid: uuid.UUID, fields: dict[str, Any], db: Any = None
    ) -> tuple[Instance, InstanceStatus] | None:
        instance = await Instance.get_or_none(id=iid, using_db=db)
        if instance is None:
            return None
        previous = instance.status
        for name, value in fields.items():
            setattr(instance, name, value)
        await instance.save(update_fields=[*fields, "updated_at"], using_db=db)
        return instance, previous

    async def _after_write(
        self, instance: Instance, previous: InstanceStatus, fields: dict[str, Any]
    ) -> None:
        iid = instance.id
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

    # -- leases (a worker of a scaled-out deployment, issue 17) -------------------------------

    def epoch_of(self, instance_id: uuid.UUID) -> int | None:
        session = self._sessions.get(instance_id)
        return None if session is None or session.closing else session.epoch

    async def _take_lease(self, session: Session) -> bool:
        """Under a worker: take the instance's lease before its engine starts. False when
        another live worker holds it."""
        if self.leases is None:
            return True
        began, wall = time.monotonic(), time.time()
        epoch = await self.leases.acquire(session.instance_id)
        if epoch is None:
            return False
        session.epoch, session.leased_at = epoch, began
        session.lease_until, session.hold_wall = began + self.hold_s, wall + self.hold_s
        return True

    async def _hold_page(self, session: Session) -> None:
        """Tell the page until when it may stay on WhatsApp: a page whose worker stops renewing
        (paused, cut off) unloads itself before another worker may take the number over."""
        hold = getattr(session.engine, "hold_until", None)
        if hold is None or session.epoch is None:
            return
        try:
            await hold(session.hold_wall)
        except EngineError as exc:
            log.warning("page hold not set: %s", exc, extra=session.log_extra)

    async def renewed(self, held: dict[uuid.UUID, int], began: float, wall: float) -> None:
        """After a renewal that began at `began` (monotonic) / `wall`: extend what is still
        ours, let go of what was lost, and of what our own page already gave up."""
        extended: list[Session] = []
        for session in list(self._sessions.values()):
            if session.epoch is None or session.closing or session.leased_at >= began:
                continue  # no lease yet, or taken after this renewal began
            if held.get(session.instance_id) != session.epoch:
                log.warning("lease lost to another worker", extra=session.log_extra)
                self._supervisor.spawn(
                    f"session-lost:{session.instance_id}", self._lose(session, release=False)
                )
            elif session.lease_until <= began:
                # Renewed too late: the page has unloaded itself. Hand the number back, and
                # whichever worker has room (maybe this one) starts it again.
                log.warning("lease held past its hold: handed back", extra=session.log_extra)
                self._supervisor.spawn(
                    f"session-lost:{session.instance_id}", self._lose(session, release=True)
                )
            else:
                session.lease_until, session.hold_wall = began + self.hold_s, wall + self.hold_s
                extended.append(session)
        await asyncio.gather(*(self._hold_page(s) for s in extended))

    async def _lose(self, session: Session, *, release: bool) -> None:
        """Stop a session this worker may no longer run. Lost (`release` False): nothing of it
        is written or snapshotted, another worker owns it now."""
        if not release:
            session.lost = True
            session.lease_until = 0.0
        async with self._locked(session.instance_id):
            if self._sessions.get(session.instance_id) is not session:
                return
            await self._dispose(session)
        log.info("engine stopped: the lease is gone", extra=session.log_extra)

    async def _let_go(self, session: Session | None) -> None:
        if session is None or self.leases is None or session.epoch is None or session.lost:
            return
        try:
            await self.leases.release(session.instance_id, session.epoch)
        except Exception as exc:  # it expires on its own
            log.warning("lease not released: %s", exc, extra=session.log_extra)
