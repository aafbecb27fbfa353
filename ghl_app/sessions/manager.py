"""The session manager: the one owner of every WhatsApp engine (architecture.md, session states).

It applies the state rules (idempotent start, stale handles disposed first, unscanned QR stopped
after a bounded time, logout wipes the profile), writes every change to the instance row and
publishes it on the bus as the WebSocket message the page receives (`instance:<uuid>` topic).

Engine events arrive on the engine's dispatcher task, in order. Handlers for them never take the
per-instance lock (a `start` holding it waits for those very events); anything that stops or
restarts an engine runs as a supervised task that does take the lock.

The bookkeeping, engine lifecycle and row writes are in core.py, boot-time restore and shutdown
in boot.py; every error code the page can show is raised here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from connectors.base import Engine, EngineError
from connectors.events import (
    Ack,
    ChatRead,
    Connected,
    Disconnected,
    Edited,
    EngineEvent,
    Ignored,
    IncomingCall,
    LoggedOut,
    Message,
    PairingCode,
    Qr,
    Reaction,
    Revoked,
    StreamState,
    WaProblem,
)
from ghl_app.errors import AppError
from ghl_app.models import Instance, Location
from ghl_app.sessions.boot import SessionBoot
from ghl_app.sessions.catch_up import CATCH_UP_SLACK, catch_up_since, chat_watermarks
from ghl_app.sessions.core import MessageListener, S
from ghl_app.sessions.qr import QrCode, qr_code
from ghl_app.sessions.state import Session, StartResult, instance_snapshot, not_found

__all__ = ["MessageListener", "SessionManager"]

log = logging.getLogger(__name__)

# How long `start` waits for the first QR (or a restored login) so its answer usually has it.
_SETTLE_S = 3.0
# Delays before each restart attempt of a linked engine that went away; then `failed`.
_RECOVERY_DELAYS_S = (0.5, 2.0, 5.0, 15.0, 30.0)
MAX_PROBLEMS = 5
# A page that never gets ready is restarted this many times before the number fails.
READY_RESTARTS = 2
# Logouts without more to say than "the phone removed this device" (the bridge's own names and
# wa-js's LogoutReason.UserInitiated).
_PLAIN_LOGOUTS = ("logout", "require_auth", "user_initiated")
_LOGGED_OUT_MESSAGE = (
    "logged_out: The phone removed this linked device. Start again and scan a new QR code."
)


class SessionManager(SessionBoot):
    # -- lookups --------------------------------------------------------------------------

    async def get_instance(self, instance_id: str | uuid.UUID, location_id: str) -> Instance:
        """The instance of this location, else 404 (another location's id reveals nothing)."""
        try:
            iid = instance_id if isinstance(instance_id, uuid.UUID) else uuid.UUID(instance_id)
        except ValueError:
            raise not_found() from None
        instance = await Instance.get_or_none(id=iid, location_id=location_id)
        if instance is None:
            raise not_found()
        return instance

    def snapshot(self, instance: Instance) -> dict[str, Any]:
        return instance_snapshot(instance)

    def current_qr(self, instance_id: uuid.UUID) -> QrCode | None:
        session = self._sessions.get(instance_id)
        if session is None or session.linked or session.status is not S.QR:
            return None
        return session.qr

    def engine_for(self, instance_id: uuid.UUID) -> Engine | None:
        """The running engine of an instance, for the bridge's sends; None when not running."""
        session = self._sessions.get(instance_id)
        if session is None or session.closing or session.engine is None:
            return None
        return session.engine if session.engine.running else None

    def session_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {"running": len(self._sessions), "max": self.settings.max_sessions}
        for session in self._sessions.values():
            counts[str(session.status)] = counts.get(str(session.status), 0) + 1
        return counts

    def add_message_listener(self, listener: MessageListener) -> None:
        """`listener(instance_id, location_id, event)` for every Message, Ack and Revoked."""
        self._listeners.append(listener)

    async def engine_of(self, instance_id: uuid.UUID) -> Engine | None:
        """The engine to send through: this process's, else (a worker of a scaled-out
        deployment) the owner's, reached through it (ghl_app/cluster/remote.py)."""
        engine = self.engine_for(instance_id)
        if engine is not None or self.remote_engine is None:
            return engine
        return await self.remote_engine(instance_id)

    async def qr_of(self, instance_id: uuid.UUID) -> QrCode | None:
        """The QR the page should show now (a web node asks the owner)."""
        return self.current_qr(instance_id)

    def engine_pids(self) -> list[int]:
        return sorted(
            pid for s in self._sessions.values() if s.engine is not None for pid in s.engine.pids()
        )

    def engine_pids_by_instance(self) -> dict[str, list[int]]:
        """Each running engine's OS processes, by instance id (the metrics' memory gauge)."""
        return {
            str(iid): list(s.engine.pids())
            for iid, s in self._sessions.items()
            if s.engine is not None
        }

    # -- commands -------------------------------------------------------------------------

    async def start(
        self, instance_id: str | uuid.UUID, *, location_id: str, phone: str | None = None
    ) -> StartResult:
        iid = (await self.get_instance(instance_id, location_id)).id
        if not await Location.filter(
            location_id=location_id, installed_at__isnull=False, uninstalled_at=None
        ).exists():
            # An open page or socket of a location that just uninstalled starts nothing.
            raise AppError("uninstalled", "The app was uninstalled from this sub-account.", 409)
        async with self._locked(iid):
            instance = await self.get_instance(iid, location_id)
            session = self._sessions.get(iid)
            live = (
                session is not None
                and not session.closing
                and session.engine is not None
                and session.engine.running
            )
            # The row is the truth the page sees; a handle that disagrees with it is stale.
            if live and session is not None and session.status is instance.status:
                if instance.status is S.CONNECTED:
                    return StartResult(instance, None, None)
                if instance.status in (S.STARTING, S.QR):
                    if phone and session.pairing_code is None:
                        session.pairing_code = await self._pair(session, phone)
                    return StartResult(instance, session.qr, session.pairing_code)
            if session is not None:
                # A stale handle (crashed, failed, reconnecting); its lease is taken again below.
                await self._dispose(session, release=False)
            session = self._register(instance, linked=False)
            if not await self._take_lease(session):
                del self._sessions[iid]
                raise AppError(
                    "owned_elsewhere",
                    "Another worker runs this number right now. Try again in a moment.",
                    409,
                )
            await self._set(session, status=S.STARTING, last_error=None)
            try:
                await self._launch(session)
            except asyncio.CancelledError:
                await self._give_up(
                    session, "start_interrupted: The start was interrupted. Start again."
                )
                raise
            except Exception as exc:
                await self._give_up(session, f"start_failed: WhatsApp could not be started: {exc}")
                raise AppError(
                    "engine_failed", "WhatsApp could not be started. Try again.", 502
                ) from exc
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.settled.wait(), _SETTLE_S)
            if phone and not session.linked:
                session.pairing_code = await self._pair(session, phone)
            instance = await self.get_instance(iid, location_id)
            qr = None if session.linked else session.qr
            return StartResult(instance, qr, session.pairing_code)

    async def stop(self, instance_id: str | uuid.UUID, *, location_id: str) -> Instance:
        iid = (await self.get_instance(instance_id, location_id)).id
        async with self._locked(iid):
            session = self._sessions.get(iid)
            if session is not None:
                await self._dispose(session, release=False)
            instance = await self._write(iid, status=S.STOPPED, last_error=None)
            await self._let_go(session)
            return instance or not_found_raise()

    async def logout(self, instance_id: str | uuid.UUID, *, location_id: str) -> Instance:
        """Unlink the device (when running), stop, and wipe the saved profile."""
        iid = (await self.get_instance(instance_id, location_id)).id
        async with self._locked(iid):
            session = await self._logout_locked(iid, location_id)
            instance = await self._write(
                iid, status=S.LOGGED_OUT, phone_number=None, wa_id=None, last_error=None
            )
            await self._let_go(session)
            return instance or not_found_raise()

    async def delete(self, instance_id: str | uuid.UUID, *, location_id: str) -> None:
        iid = (await self.get_instance(instance_id, location_id)).id
        async with self._locked(iid):
            await self._logout_locked(iid, location_id)
            await Instance.filter(id=iid).delete()  # its lease row goes with it
        log.info("instance deleted", extra={"instance_id": str(iid), "location_id": location_id})

    async def stop_location(self, location_id: str) -> None:
        """Stop every session of a location (the UNINSTALL webhook); profiles stay."""
        for instance in await Instance.filter(location_id=location_id):
            async with self._locked(instance.id):
                session = self._sessions.get(instance.id)
                if session is not None:
                    await self._dispose(session, release=False)
                if instance.status not in (S.STOPPED, S.LOGGED_OUT):
                    await self._write(
                        instance.id,
                        status=S.STOPPED,
                        last_error="uninstalled: The app was uninstalled from this location.",
                    )
                await self._let_go(session)
        log.info("location sessions stopped", extra={"location_id": location_id})

    def _register(self, instance: Instance, *, linked: bool) -> Session:
        # No await between the check and the insert: concurrent starts cannot overshoot.
        if self._closing:
            raise AppError("shutting_down", "The server is restarting. Try again shortly.", 503)
        if len(self._sessions) >= self.settings.max_sessions:
            raise AppError(
                "max_sessions",
                f"This server already runs its maximum of {self.settings.max_sessions} WhatsApp "
                "sessions. Stop another instance, or raise MAX_SESSIONS.",
                503,
            )
        quota = self.settings.location_session_quota
        running_here = [s for s in self._sessions.values() if s.location_id == instance.location_id]
        if len(running_here) >= quota:
            raise AppError(
                "location_max_sessions",
                f"This sub-account already runs its share of {quota} WhatsApp sessions on this "
                "server. Stop one of its numbers first.",
                409,
            )
        session = Session(instance.id, instance.location_id, instance.status, linked=linked)
        self._sessions[instance.id] = session
        return session

    async def _pair(self, session: Session, phone: str) -> str:
        assert session.engine is not None
        try:
            return await session.engine.request_pairing_code(phone)
        except EngineError as exc:
            if exc.code == "invalid_phone":
                raise AppError("invalid_phone", "Type the phone number with country code.") from exc
            raise AppError(
                "pairing_failed", "WhatsApp did not give a pairing code. Try again.", 502
            ) from exc

    # -- engine events ------------------------------------------------------------------------

    async def _on_event(self, session: Session, event: EngineEvent) -> None:
        if isinstance(
            event, Message | Ack | Revoked | Ignored | Reaction | Edited | IncomingCall | ChatRead
        ):
            await self._tell_listeners(session, event)  # real data, even while stopping
            return
        if not self._is_current(session):
            return
        if isinstance(event, WaProblem):
            if event.problem not in session.problems:
                session.problems = [*session.problems[-(MAX_PROBLEMS - 1) :], event.problem]
                log.warning("whatsapp web problem: %s", event.problem, extra=session.log_extra)
            return
        if isinstance(event, Qr):
            session.linked = False
            session.qr = await asyncio.to_thread(qr_code, event.code, event.expires_at)
            if session.status is not S.QR:
                await self._set(session, status=S.QR)
            await self._bus.publish(
                f"instance:{session.instance_id}",
                {
                    "type": "qr",
                    "instance_id": str(session.instance_id),
                    "qr": session.qr.to_dict(),
                },
            )
            if session.qr_timer is None:
                session.qr_timer = self._spawn(session, "qr-timeout", self._expire_qr(session))
        elif isinstance(event, PairingCode):
            if event.code != session.pairing_code:
                session.pairing_code = event.code
                # A new code (WhatsApp refreshed it): the page shows it at once.
                await self._bus.publish(
                    f"instance:{session.instance_id}",
                    {
                        "type": "pairing_code",
                        "instance_id": str(session.instance_id),
                        "code": event.code,
                    },
                )
        elif isinstance(event, Connected):
            session.linked = True
            session.qr = session.pairing_code = None
            if session.qr_timer is not None:
                session.qr_timer.cancel()
                session.qr_timer = None
            since = await catch_up_since(
                session.instance_id, max_days=self.settings.catch_up_max_days
            )
            await self._set(
                session,
                status=S.CONNECTED,
                phone_number=event.phone,
                wa_id=event.wid,
                connected_at=datetime.now(UTC),
                last_error=None,
            )
            log.info("connected", extra=session.log_extra)
            if since is not None:
                self._spawn(session, "catch-up", self._catch_up(session, since))
            self._keep_snapshots(session)
        elif isinstance(event, LoggedOut):
            session.linked = False
            log.info("logged out from the phone: %s", event.reason, extra=session.log_extra)
            self._spawn(session, "logged-out", self._logged_out(session, event.reason))
        elif isinstance(event, StreamState):
            # The browser lives; WhatsApp's own connection went down or came back.
            if event.up:
                log.info("whatsapp stream back", extra=session.log_extra)
                await self._set(session, status=S.CONNECTED, last_error=None)
                down_at, session.stream_down_at = session.stream_down_at, None
                if down_at is not None:
                    since = down_at - CATCH_UP_SLACK
                    self._spawn(session, "catch-up", self._catch_up(session, since))
            else:
                log.warning("whatsapp stream down: %s", event.reason, extra=session.log_extra)
                if session.stream_down_at is None:
                    session.stream_down_at = datetime.now(UTC)
                await self._set(session, status=S.DISCONNECTED, last_error=event.reason)
        elif isinstance(event, Disconnected):
            log.warning("engine lost: %s", event.reason, extra=session.log_extra)
            session.recovery = self._spawn(session, "recover", self._recover(session, event.reason))
        session.settled.set()

    def problems(self) -> dict[str, list[str]]:
        """Running numbers whose page reported what wa-js misses (for /healthz)."""
        return {
            str(iid): list(session.problems)
            for iid, session in self._sessions.items()
            if session.problems
        }

    async def _catch_up(self, session: Session, since: datetime) -> None:
        """Ask the page for what reached WhatsApp since `since` and never reached us (the app,
        browser or page was down, or the stream was); it comes back as message events, and the
        store keeps each message once."""
        engine = session.engine
        if engine is None or not self._is_current(session):
            return
        self.catching_up.add(session.instance_id)
        try:
            starts = await chat_watermarks(
                session.instance_id, session.location_id, max_days=self.settings.catch_up_max_days
            )
            count = await engine.catch_up(int(since.timestamp()), starts)
        except EngineError as exc:
            log.warning("catch-up failed: %s", exc, extra=session.log_extra)
            return
        finally:
            self.catching_up.discard(session.instance_id)
        for observe in self.catch_up_observers:
            observe(count)
        log.info(
            "catch-up read %d message(s) since %s",
            count,
            since.isoformat(timespec="seconds"),
            extra=session.log_extra,
        )

    async def _watch_ready(self, session: Session, launch: int) -> None:
        """A page that never gets ready (no QR, no login: wa-js attached but WhatsApp Web did not
        load, as after WhatsApp Web updates before) must not sit in `starting` or show a stale
        `connected`: a linked number is restarted (READY_RESTARTS times, with the recovery's
        backoff), then the number fails with the reason."""
        timeout = self.settings.wa_ready_timeout_seconds
        await asyncio.sleep(timeout)
        async with self._locked(session.instance_id):
            if (
                not self._is_current(session)
                or session.launches != launch
                or session.settled.is_set()
                or session.recovery is not None
            ):
                return
            session.ready_misses += 1
            reason = f"not_ready: WhatsApp Web did not finish loading within {timeout:.0f} s"
            log.warning("%s (launch %d)", reason, launch, extra=session.log_extra)
            if session.linked and session.ready_misses <= READY_RESTARTS:
                await self._stop_engine(session)
                session.recovery = self._spawn(
                    session,
                    "recover",
                    self._recover(session, reason, backoff_from=session.ready_misses - 1),
                )
                return
            await self._give_up(
                session,
                f"{reason}. WhatsApp Web may have changed: update the app, or start the number"
                " again later.",
            )

    async def _tell_listeners(self, session: Session, event: EngineEvent) -> None:
        for listener in self._listeners:
            try:
                await listener(session.instance_id, session.location_id, event)
            except Exception:
                log.exception("message listener failed", extra=session.log_extra)

    async def _expire_qr(self, session: Session) -> None:
        await asyncio.sleep(self.settings.qr_timeout_seconds)
        async with self._locked(session.instance_id):
            if not self._is_current(session) or session.linked:
                return
            log.info("qr not scanned in time, stopping", extra=session.log_extra)
            await self._dispose(session)
            await self._write(
                session.instance_id,
                status=S.STOPPED,
                last_error="qr_timeout: the QR code was not scanned in time. Start again.",
            )

    async def _logged_out(self, session: Session, reason: str = "logout") -> None:
        async with self._locked(session.instance_id):
            if not self._is_current(session):
                return
            gone = await self._logout_locked(session.instance_id, session.location_id)
            await self._write(
                session.instance_id,
                status=S.LOGGED_OUT,
                phone_number=None,
                wa_id=None,
                last_error=_LOGGED_OUT_MESSAGE
                if reason in _PLAIN_LOGOUTS
                else f"{_LOGGED_OUT_MESSAGE} WhatsApp's reason: {reason[:80]}.",
            )
            await self._let_go(gone)

    async def _recover(self, session: Session, reason: str, *, backoff_from: int = 0) -> None:
        """Restart an engine whose browser went away (or whose page never got ready): the
        profile still holds the login. `backoff_from` skips the first delays (a repeat)."""
        if not session.linked:
            async with self._locked(session.instance_id):
                if self._is_current(session):
                    await self._give_up(
                        session,
                        f"browser_stopped: The browser stopped ({reason}) before the phone was"
                        " linked.",
                    )
            return
        await self._set(session, status=S.DISCONNECTED, last_error=f"reconnecting: {reason}")
        error = reason
        for attempt, delay in enumerate(_RECOVERY_DELAYS_S[backoff_from:], 1):
            await asyncio.sleep(delay)
            async with self._locked(session.instance_id):
                if not self._is_current(session):
                    return
                try:
                    session.settled.clear()
                    await self._launch(session)
                    session.recovery = None
                    log.info("engine restarted (attempt %d)", attempt, extra=session.log_extra)
                    return
                except Exception as exc:
                    error = str(exc)
                    log.warning(
                        "restart attempt %d failed: %s", attempt, exc, extra=session.log_extra
                    )
        async with self._locked(session.instance_id):
            if self._is_current(session):
                await self._give_up(
                    session, f"restart_failed: WhatsApp could not be restarted: {error}"
                )


def not_found_raise() -> Instance:
    raise not_found()
