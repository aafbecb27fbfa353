"""A worker of a scaled-out deployment: its leases, its takeovers, the calls it answers.

Every `lease_s / 3` a worker says it is alive, renews its leases in one statement and lets go
of any session whose lease is gone (lost to another worker while this one was paused or cut
off: its engine is stopped and nothing of it is written). Then it looks for linked instances no
live worker holds (their worker died, or let them go on a clean stop) and takes those that fall
to it: each orphan goes, in order, to the live worker with the most free capacity, and each
worker takes its own share, so a failover spreads over the survivors. A share left untaken
(that worker died too) is an orphan again at the next round.

The page itself enforces the lease too (sessions/core.py `_hold_page`): a worker that stops
renewing has its WhatsApp pages unload themselves before another worker may take over, so a
number is never open on two devices' pages at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from connectors.base import Engine
from ghl_app.bridge.send_turns import SendTurns
from ghl_app.bus import EventBus
from ghl_app.cluster.leases import Leases, WorkerLoad
from ghl_app.cluster.remote import RemoteEngine, serve_engine_calls
from ghl_app.cluster.rpc import Rpc
from ghl_app.sessions import SessionManager
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor

log = logging.getLogger(__name__)

# Takeovers at once per worker (each launches a browser).
_CLAIMS_AT_ONCE = 3
# A QR wait or start whose worker went away is stopped once left alone this long.
_ABANDONED_S = 30.0
_ABANDONED_MESSAGE = "worker_lost: The server running this number stopped. Start again."


def shares(orphans: list[uuid.UUID], workers: list[WorkerLoad]) -> dict[uuid.UUID, str]:
    """Each orphan to the live worker with the most free capacity at that point (ties: the
    smaller node id), as every worker computes it alike."""
    free = {w.node_id: w.free for w in workers}
    assigned: dict[uuid.UUID, str] = {}
    for orphan in orphans:
        node = min((n for n, f in free.items() if f > 0), key=lambda n: (-free[n], n), default=None)
        if node is None:
            break
        assigned[orphan] = node
        free[node] -= 1
    return assigned


class WorkerNode:
    def __init__(
        self,
        settings: Settings,
        sessions: SessionManager,
        bus: EventBus,
        supervisor: TaskSupervisor,
        node_id: str,
    ) -> None:
        self.node_id = node_id
        self.settings = settings
        self.sessions = sessions
        self.supervisor = supervisor
        self.leases = Leases(node_id, settings.lease_seconds)
        self.rpc = Rpc(bus, node_id, supervisor)
        self.every_s = settings.lease_seconds / 3
        # The page and this process act on a lease for two thirds of it after a renewal began:
        # the last third is the margin before another worker may take it (the database's clock).
        sessions.leases = self.leases
        sessions.hold_s = settings.lease_seconds * 2 / 3
        sessions.remote_engine = self._remote_engine
        # The bridge's pacer, set once the bridge exists (Services): a number's send turns.
        self.turns: SendTurns | None = None
        serve_engine_calls(self.rpc, sessions, lambda: self.turns)
        _serve_session_commands(self.rpc, sessions)
        self._claiming: set[uuid.UUID] = set()
        self._claim_slots = asyncio.Semaphore(_CLAIMS_AT_ONCE)

    async def start(self) -> None:
        await self.rpc.start()
        await self.leases.heartbeat(self.settings.max_sessions)
        log.info("worker %s up: room for %d sessions", self.node_id, self.settings.max_sessions)
        self.supervisor.spawn("cluster-worker", self._run())

    async def close(self) -> None:
        """After the sessions shut down (their leases released): leave the registry."""
        self.rpc.close()
        try:
            await self.leases.forget_worker()
        except Exception as exc:
            log.warning("worker %s not removed from the registry: %s", self.node_id, exc)

    async def _remote_engine(self, instance_id: uuid.UUID) -> Engine | None:
        owner = await self.leases.owner_of(instance_id)
        if owner is None or owner[0] == self.node_id:
            return None  # nobody runs it (or our own session is restarting): the send waits
        engine: Engine = RemoteEngine(self.rpc, owner[0], instance_id, owner[1])
        return engine

    async def _run(self) -> None:
        await self.sessions.warm_up()
        while True:
            try:
                await self.tick()
            except Exception:
                # The database away for a moment: the next round tries again. Leases not
                # renewed meanwhile make the pages unload themselves in time.
                log.exception("worker %s: lease round failed", self.node_id)
            await asyncio.sleep(self.every_s)

    async def tick(self) -> None:
        began, wall = time.monotonic(), time.time()
        await self.leases.heartbeat(self.settings.max_sessions)
        held = await self.leases.renew()
        await self.sessions.renewed(held, began, wall)
        for stopped, location_id in await self.leases.stop_abandoned(
            _ABANDONED_MESSAGE, _ABANDONED_S
        ):
            log.info(
                "a QR wait whose worker stopped was ended",
                extra={"instance_id": stopped, "location_id": location_id},
            )
        orphans = [o for o in await self.leases.orphans() if o not in self._claiming]
        if not orphans or self.sessions.closing:
            return
        assigned = shares(orphans, await self.leases.workers())
        for iid in (o for o, node in assigned.items() if node == self.node_id):
            self._claiming.add(iid)
            self.supervisor.spawn(f"cluster-claim:{iid}", self._claim(iid))

    async def _claim(self, instance_id: uuid.UUID) -> None:
        try:
            async with self._claim_slots:
                log.info(
                    "taking over an instance no worker runs",
                    extra={"instance_id": str(instance_id)},
                )
                await self.sessions.claim(instance_id)
        finally:
            self._claiming.discard(instance_id)


def _serve_session_commands(rpc: Rpc, sessions: SessionManager) -> None:
    """The page's commands, sent here by a web node because this worker owns the instance (or
    has the most room for a new one)."""

    async def start(params: dict[str, Any]) -> dict[str, Any]:
        result = await sessions.start(
            params["instance_id"], location_id=params["location_id"], phone=params.get("phone")
        )
        return {
            "qr": result.qr.to_dict() if result.qr is not None else None,
            "pairing_code": result.pairing_code,
        }

    async def stop(params: dict[str, Any]) -> None:
        await sessions.stop(params["instance_id"], location_id=params["location_id"])

    async def logout(params: dict[str, Any]) -> None:
        await sessions.logout(params["instance_id"], location_id=params["location_id"])

    async def delete(params: dict[str, Any]) -> None:
        await sessions.delete(params["instance_id"], location_id=params["location_id"])

    async def stop_location(params: dict[str, Any]) -> None:
        await sessions.stop_location(params["location_id"])

    async def qr(params: dict[str, Any]) -> dict[str, str] | None:
        code = sessions.current_qr(uuid.UUID(params["instance_id"]))
        return code.to_dict() if code is not None else None

    async def counts(_params: dict[str, Any]) -> dict[str, Any]:
        return {"sessions": sessions.session_counts(), "problems": sessions.problems()}

    for name, handler in {
        "start": start,
        "stop": stop,
        "logout": logout,
        "delete": delete,
        "stop_location": stop_location,
        "qr": qr,
        "counts": counts,
    }.items():
        rpc.handle(name, handler)
