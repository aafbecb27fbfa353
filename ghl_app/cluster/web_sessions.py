"""A web node's sessions: none run here; every command goes to the worker that owns the
instance, or, for one no worker runs, to the live worker with the most free capacity.

Lookups, snapshots and announcements are the manager's own (rows in the shared database,
events on the shared bus); the QR the page shows comes from the owner.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from connectors.base import Engine
from ghl_app.bus import EventBus
from ghl_app.cluster.leases import Leases
from ghl_app.cluster.remote import RemoteEngine
from ghl_app.cluster.rpc import Rpc
from ghl_app.errors import AppError
from ghl_app.models import Instance
from ghl_app.sessions import SessionManager
from ghl_app.sessions.qr import QrCode
from ghl_app.sessions.state import StartResult
from ghl_app.settings import Settings
from ghl_app.supervisor import TaskSupervisor

log = logging.getLogger(__name__)

# A start waits for the browser and its first QR on the worker.
_START_S = 90.0


class WebSessions(SessionManager):
    def __init__(
        self, settings: Settings, bus: EventBus, supervisor: TaskSupervisor, node_id: str
    ) -> None:
        super().__init__(settings, bus, supervisor, engine_factory=_no_engines)
        self.node_id = node_id
        self.lookups = Leases(node_id, settings.lease_seconds)
        self.rpc = Rpc(bus, node_id, supervisor)
        self._starting: Counter[str] = Counter()

    async def _worker_for(self, instance_id: uuid.UUID) -> str | None:
        owner = await self.lookups.owner_of(instance_id)
        if owner is not None:
            return owner[0]
        # Starts this node sent that have not taken their lease yet count against their
        # worker: pages starting several numbers at once spread instead of all landing on
        # the worker that looked freest a moment ago.
        free = {w.node_id: w.free - self._starting[w.node_id] for w in await self.lookups.workers()}
        roomy = sorted((n for n, f in free.items() if f > 0), key=lambda n: (-free[n], n))
        log.info(
            "instance placed on worker %s (free: %s)",
            roomy[0] if roomy else None,
            free,
            extra={"instance_id": str(instance_id)},
        )
        return roomy[0] if roomy else None

    async def _send(self, instance_id: uuid.UUID, method: str, **params: Any) -> Any:
        # Twice: a worker picked for a free instance may lose the race for its lease to
        # another (two pages starting one number at once); then the owner is known.
        for attempt in (1, 2):
            node = await self._worker_for(instance_id)
            if node is None:
                raise AppError(
                    "no_worker",
                    "No worker has room for another WhatsApp session right now. Try again "
                    "shortly, or add a worker.",
                    503,
                )
            self._starting[node] += 1
            try:
                return await self.rpc.call(
                    node, method, _START_S, instance_id=str(instance_id), **params
                )
            except AppError as exc:
                if exc.code != "owned_elsewhere" or attempt == 2:
                    raise
            finally:
                self._starting[node] -= 1
        return None

    # -- the commands, on the owner ---------------------------------------------------------

    async def start(
        self, instance_id: str | uuid.UUID, *, location_id: str, phone: str | None = None
    ) -> StartResult:
        iid = (await self.get_instance(instance_id, location_id)).id
        result = await self._send(iid, "start", location_id=location_id, phone=phone)
        instance = await self.get_instance(iid, location_id)
        return StartResult(instance, _qr(result.get("qr")), result.get("pairing_code"))

    async def stop(self, instance_id: str | uuid.UUID, *, location_id: str) -> Instance:
        iid = (await self.get_instance(instance_id, location_id)).id
        await self._send(iid, "stop", location_id=location_id)
        return await self.get_instance(iid, location_id)

    async def logout(self, instance_id: str | uuid.UUID, *, location_id: str) -> Instance:
        iid = (await self.get_instance(instance_id, location_id)).id
        await self._send(iid, "logout", location_id=location_id)
        return await self.get_instance(iid, location_id)

    async def delete(self, instance_id: str | uuid.UUID, *, location_id: str) -> None:
        iid = (await self.get_instance(instance_id, location_id)).id
        await self._send(iid, "delete", location_id=location_id)

    async def stop_location(self, location_id: str) -> None:
        for worker in await self.lookups.workers():
            try:
                await self.rpc.call(
                    worker.node_id, "stop_location", _START_S, location_id=location_id
                )
            except AppError as exc:  # its leases run out, and no worker restarts them: below
                log.warning(
                    "worker %s did not stop the location's sessions: %s",
                    worker.node_id,
                    exc.message,
                    extra={"location_id": location_id},
                )
        # Every row stopped, those of numbers no worker runs too: a row left connected would be
        # an orphan another worker takes over.
        await super().stop_location(location_id)

    async def qr_of(self, instance_id: uuid.UUID) -> QrCode | None:
        owner = await self.lookups.owner_of(instance_id)
        if owner is None:
            return None
        return _qr(await self.rpc.call(owner[0], "qr", 10.0, instance_id=str(instance_id)))

    async def engine_of(self, instance_id: uuid.UUID) -> Engine | None:
        owner = await self.lookups.owner_of(instance_id)
        if owner is None:
            return None
        engine: Engine = RemoteEngine(self.rpc, owner[0], instance_id, owner[1])
        return engine

    # -- nothing runs here ------------------------------------------------------------------

    def restore(self) -> Any:
        return None

    async def start_rpc(self) -> None:
        await self.rpc.start()

    async def shutdown(self) -> None:
        self._closing = True
        self.rpc.close()


def _qr(data: dict[str, str] | None) -> QrCode | None:
    if not data:
        return None
    return QrCode(data["code"], data["svg"], datetime.fromisoformat(data["expires_at"]))


def _no_engines(*_args: Any) -> Engine:
    raise AppError("no_engines", "A web node runs no WhatsApp engine.", 500)
