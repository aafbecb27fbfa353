"""Instance leases and the worker registry, on PostgreSQL's clock (issue 17, item 3).

A lease says which worker runs an instance until when. Each statement below is atomic on its
own: taking a lease succeeds only when it is free, expired or already this worker's, and bumps
the epoch, so a worker that lost an instance (killed, partitioned, paused past its lease) holds
an epoch that never matches again. Times are the database's (`now()`), never a worker's own
clock: workers on different machines need not agree on the time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

from ghl_app.db import connection
from ghl_app.models import InstanceStatus

_ACQUIRE = """
INSERT INTO instance_leases (instance_id, owner, epoch, expires_at)
VALUES ($1, $2, 1, now() + make_interval(secs => $3))
ON CONFLICT (instance_id) DO UPDATE
   SET owner = EXCLUDED.owner, epoch = instance_leases.epoch + 1,
       expires_at = EXCLUDED.expires_at
 WHERE instance_leases.expires_at <= now() OR instance_leases.owner = EXCLUDED.owner
RETURNING epoch
"""
_RENEW = """
UPDATE instance_leases SET expires_at = now() + make_interval(secs => $2)
 WHERE owner = $1 AND expires_at > now()
RETURNING instance_id, epoch
"""
# Expired rather than deleted: the row keeps the epoch, so it only ever grows.
_RELEASE = """
UPDATE instance_leases SET expires_at = now()
 WHERE instance_id = $1 AND owner = $2 AND epoch = $3
"""
_HOLDS = """
SELECT 1 FROM instance_leases
 WHERE instance_id = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()
   FOR SHARE
"""
_OWNER = """
SELECT owner, epoch FROM instance_leases WHERE instance_id = $1 AND expires_at > now()
"""
_HEARTBEAT = """
INSERT INTO cluster_workers (node_id, capacity, started_at, seen_at)
VALUES ($1, $2, now(), now())
ON CONFLICT (node_id) DO UPDATE SET capacity = EXCLUDED.capacity, seen_at = now()
"""
_FORGET_WORKER = "DELETE FROM cluster_workers WHERE node_id = $1"
# Live workers and what they run now (live leases), the most free first.
_WORKERS = """
SELECT w.node_id, w.capacity, count(l.id) AS running
  FROM cluster_workers w
  LEFT JOIN instance_leases l ON l.owner = w.node_id AND l.expires_at > now()
 WHERE w.seen_at > now() - make_interval(secs => $1)
 GROUP BY w.node_id, w.capacity
 ORDER BY w.capacity - count(l.id) DESC, w.node_id
"""
# Instances that should run (linked) and that no live worker holds.
_ORPHANS = """
SELECT i.id FROM instances i
  LEFT JOIN instance_leases l ON l.instance_id = i.id AND l.expires_at > now()
 WHERE i.status IN ($1, $2) AND l.id IS NULL
 ORDER BY i.id
"""
# A QR wait or a start whose worker went away has nothing left to wait for. Only rows left
# alone for a while: a start takes its lease before writing `starting`, so a live one is held.
_ABANDONED = """
UPDATE instances SET status = $1, last_error = $2, updated_at = now()
 WHERE status IN ($3, $4) AND updated_at < now() - make_interval(secs => $5)
   AND NOT EXISTS (SELECT 1 FROM instance_leases l
                    WHERE l.instance_id = instances.id AND l.expires_at > now())
RETURNING id, location_id
"""


@dataclass(frozen=True, slots=True)
class WorkerLoad:
    node_id: str
    capacity: int
    running: int

    @property
    def free(self) -> int:
        return self.capacity - self.running


class Leases:
    """The lease statements of one worker (or, for lookups, of a web node)."""

    def __init__(self, node_id: str, ttl_s: float) -> None:
        self.node_id = node_id
        self.ttl_s = ttl_s

    async def acquire(self, instance_id: uuid.UUID) -> int | None:
        """Take the instance (free, expired, or already ours): its new epoch; None when another
        live worker holds it."""
        rows = await connection().execute_query_dict(
            _ACQUIRE, [instance_id, self.node_id, self.ttl_s]
        )
        return int(rows[0]["epoch"]) if rows else None

    async def renew(self) -> dict[uuid.UUID, int]:
        """Extend every lease this worker still holds: {instance: epoch}. Whatever is missing
        was lost (expired, and maybe taken by another worker)."""
        rows = await connection().execute_query_dict(_RENEW, [self.node_id, self.ttl_s])
        return {_uuid(row["instance_id"]): int(row["epoch"]) for row in rows}

    async def release(self, instance_id: uuid.UUID, epoch: int) -> None:
        await connection().execute_query(_RELEASE, [instance_id, self.node_id, epoch])

    async def holds(self, db: BaseDBAsyncClient, instance_id: uuid.UUID, epoch: int) -> bool:
        """Inside a transaction: True while this lease is ours, and it stays ours (the row is
        share-locked: a taker waits) until the transaction ends. The fence of a write."""
        rows = await db.execute_query_dict(_HOLDS, [instance_id, self.node_id, epoch])
        return bool(rows)

    async def owner_of(self, instance_id: uuid.UUID) -> tuple[str, int] | None:
        rows = await connection().execute_query_dict(_OWNER, [instance_id])
        return (str(rows[0]["owner"]), int(rows[0]["epoch"])) if rows else None

    async def heartbeat(self, capacity: int) -> None:
        await connection().execute_query(_HEARTBEAT, [self.node_id, capacity])

    async def forget_worker(self) -> None:
        await connection().execute_query(_FORGET_WORKER, [self.node_id])

    async def workers(self) -> list[WorkerLoad]:
        """Live workers (seen within a lease's length), the most free capacity first."""
        rows = await connection().execute_query_dict(_WORKERS, [self.ttl_s])
        return [WorkerLoad(str(r["node_id"]), int(r["capacity"]), int(r["running"])) for r in rows]

    async def orphans(self) -> list[uuid.UUID]:
        rows = await connection().execute_query_dict(
            _ORPHANS, [InstanceStatus.CONNECTED.value, InstanceStatus.DISCONNECTED.value]
        )
        return [_uuid(row["id"]) for row in rows]

    async def stop_abandoned(self, message: str, older_than_s: float) -> list[tuple[str, str]]:
        rows = await connection().execute_query_dict(
            _ABANDONED,
            [
                InstanceStatus.STOPPED.value,
                message,
                InstanceStatus.STARTING.value,
                InstanceStatus.QR.value,
                older_than_s,
            ],
        )
        return [(str(row["id"]), str(row["location_id"])) for row in rows]


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
