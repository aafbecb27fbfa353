"""Boot and shutdown of every session: restore the linked instances a few at a time, close all."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import uuid

from ghl_app.errors import AppError
from ghl_app.models import Instance
from ghl_app.sessions.core import S, SessionCore
from ghl_app.sessions.state import Session

log = logging.getLogger("ghl_app.sessions.manager")

_RESTORE_SETTLE_S = 20.0
RESTORE_CONCURRENCY = 3


class SessionBoot(SessionCore):
    def restore(self) -> asyncio.Task[None]:
        """Restart every instance that was linked, a few at a time, in the background."""
        self._restore_task = self._supervisor.spawn("sessions-restore", self._restore_all())
        return self._restore_task

    @property
    def closing(self) -> bool:
        return self._closing

    async def warm_up(self) -> None:
        if self._playwright is not None:
            try:
                await self._playwright.warm_up()
            except Exception as exc:  # reported again, to the user, by the first start
                log.warning("browser driver warm-up failed: %s", exc)

    async def _restore_all(self) -> None:
        await self.warm_up()
        # A QR wait cut short by a process exit has nothing left to wait for.
        await Instance.filter(status__in=[S.STARTING, S.QR]).update(status=S.STOPPED)
        rows = await Instance.filter(status__in=[S.CONNECTED, S.DISCONNECTED]).order_by("id")
        if not rows:
            return
        began = asyncio.get_running_loop().time()
        slots = asyncio.Semaphore(RESTORE_CONCURRENCY)

        async def one(instance: Instance) -> None:
            async with slots:
                await self._restore_one(instance)

        await asyncio.gather(*(one(instance) for instance in rows))
        log.info(
            "restored %d sessions in %.1fs", len(rows), asyncio.get_running_loop().time() - began
        )

    async def claim(self, instance_id: uuid.UUID) -> None:
        """A worker takes over a linked instance no live worker holds (issue 17)."""
        instance = await Instance.get_or_none(id=instance_id)
        if instance is not None and instance.status in (S.CONNECTED, S.DISCONNECTED):
            await self._restore_one(instance)

    async def _restore_one(self, instance: Instance) -> None:
        async with self._locked(instance.id):
            if instance.id in self._sessions or self._closing:
                return
            try:
                session = self._register(instance, linked=True)
            except AppError as exc:
                if self.leases is not None:
                    return  # a worker that is full leaves it to one with room
                await self._write(
                    instance.id, status=S.FAILED, last_error=f"{exc.code}: {exc.message}"
                )
                return
            if not await self._take_lease(session):
                del self._sessions[instance.id]
                return  # another worker took it first
            try:
                await self._launch(session)
            except Exception as exc:
                log.warning("restore failed: %s", exc, extra=session.log_extra)
                session.recovery = self._spawn(session, "recover", self._recover(session, "boot"))
                return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.settled.wait(), _RESTORE_SETTLE_S)

    async def shutdown(self) -> None:
        """Close every engine, profiles intact; rows keep their status for the next `restore`."""
        self._closing = True
        if self._restore_task is not None:
            self._restore_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._restore_task
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            session.closing = True
            self._cancel_tasks(session)
        # A few at a time: thirty browsers closing at once on two cores miss their close
        # timeout and get killed, which risks the last seconds of their profiles.
        slots = asyncio.Semaphore(RESTORE_CONCURRENCY * 2)

        async def stop_one(session: Session) -> None:
            async with slots:
                await self._stop_engine(session)
                await self._let_go(session)  # a worker: others take it over at once

        await asyncio.gather(*(stop_one(s) for s in sessions))
        waiting = [s.instance_id for s in sessions if s.status in (S.STARTING, S.QR)]
        if waiting:
            await Instance.filter(id__in=waiting).update(status=S.STOPPED)
        if self._playwright is not None:
            await self._playwright.close()
        log.info("sessions shut down", extra={"count": len(sessions)})

    # Implemented by SessionManager (manager.py), where the page's error codes live.
    @abc.abstractmethod
    def _register(self, instance: Instance, *, linked: bool) -> Session: ...

    @abc.abstractmethod
    async def _recover(self, session: Session, reason: str) -> None: ...
