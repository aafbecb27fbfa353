"""The job table's state changes, each one statement guarded by the state it expects.

Every transition names the status (and, for a running job, the lease owner) it starts from, so
two workers racing for the same row cannot both win: the loser's statement matches no row.
Plain SQL where the ORM cannot say it (the claim); the ORM everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.queryset import QuerySet

from ghl_app.db import connection, execute, fetch, placeholders
from ghl_app.models import Job, JobStatus

_QUEUED = JobStatus.QUEUED.value
_RUNNING = JobStatus.RUNNING.value

# The head of a key is its lowest live (queued or running) job. A key is claimable when its head
# is queued, its time has come, and none of its jobs is running: so a key never has two jobs
# running, and a job never overtakes an earlier one waiting for its retry. (A running job above
# a queued head happens when `retry()` puts a parked job back while a later one runs.) Parked
# (failed) and done jobs are not live: they block nothing. The grouping reads only live rows
# (the status index), never the growing history of done jobs.
#
# No location may hold more than `per_location` running jobs (issue 14: 33 slow replies of one
# location held all 32 slots and another location's text waited 10 minutes). The claimable heads
# are ranked per location, oldest first, and a head is taken only while its rank plus what the
# location already runs (on any worker) stays within the cap. Jobs with no location (maintenance)
# are not capped.
#
# The candidates are picked once, in a materialised CTE: as `id IN (subquery)` Postgres may run a
# LIMIT ... SKIP LOCKED subquery more than once and claim more rows than asked for. The window
# function sits in its own CTE: Postgres allows no FOR UPDATE beside one.
_CLAIM_SQL = """
WITH ranked AS MATERIALIZED (
    SELECT j.id, j.location_id,
        ROW_NUMBER() OVER (PARTITION BY j.location_id ORDER BY j.id) AS rank
    FROM jobs AS j
    JOIN (
        SELECT MIN(id) AS id FROM jobs
        WHERE status IN (?, ?)
        GROUP BY ordering_key
        HAVING MAX(CASE WHEN status = ? THEN 1 ELSE 0 END) = 0
    ) AS head ON head.id = j.id
    WHERE j.status = ? AND j.run_after <= ? AND j.kind IN ({kinds})
),
busy AS MATERIALIZED (
    SELECT location_id, COUNT(*) AS running FROM jobs
    WHERE status = ? AND location_id IS NOT NULL
    GROUP BY location_id
),
picked AS MATERIALIZED (
    SELECT j.id FROM jobs AS j
    JOIN ranked AS r ON r.id = j.id
    LEFT JOIN busy AS b ON b.location_id = r.location_id
    WHERE r.location_id IS NULL OR r.rank + COALESCE(b.running, 0) <= ?
    ORDER BY j.id
    LIMIT ?{lock}
)
UPDATE jobs
SET status = ?, lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1, updated_at = ?
WHERE status = ? AND id IN (SELECT id FROM picked)
RETURNING id, kind, payload, ordering_key, location_id, status, attempts, max_attempts, lease_owner
"""


_INSERT_SQL = """
INSERT INTO jobs (kind, payload, ordering_key, location_id, status, attempts, max_attempts,
    run_after, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
RETURNING id
"""
_PAYLOAD = Job._meta.fields_map["payload"]


async def insert(
    *,
    kind: str,
    payload: dict[str, Any],
    ordering_key: str,
    location_id: str | None,
    max_attempts: int,
    run_after: datetime,
    now: datetime,
    using_db: BaseDBAsyncClient | None,
) -> Job:
    """A queued job, written as text (enqueueing is on every message's path)."""
    values = [
        kind,
        _PAYLOAD.to_db_value(payload, Job),
        ordering_key,
        location_id,
        _QUEUED,
        max_attempts,
        run_after,
        now,
        now,
    ]
    rows = await fetch(_INSERT_SQL, values, using_db)
    job = Job(
        kind=kind,
        payload=payload,
        ordering_key=ordering_key,
        location_id=location_id,
        status=JobStatus.QUEUED,
        attempts=0,
        max_attempts=max_attempts,
        run_after=run_after,
        created_at=now,
        updated_at=now,
    )
    job.id = int(rows[0]["id"])
    job._saved_in_db = True
    return job


async def claim(
    *,
    worker_id: str,
    kinds: Sequence[str],
    limit: int,
    now: datetime,
    lease_until: datetime,
    per_location: int,
) -> list[Job]:
    """Lease up to `limit` claimable jobs to `worker_id`, oldest first, attempts counted, no
    location above `per_location` running jobs."""
    if limit <= 0 or not kinds:
        return []
    db = connection()
    dialect = db.capabilities.dialect
    # Postgres: concurrent workers skip each other's candidate rows instead of queueing on them.
    lock = " FOR UPDATE OF j SKIP LOCKED" if dialect == "postgres" else ""
    sql = _CLAIM_SQL.format(kinds=", ".join("?" for _ in kinds), lock=lock)
    values: list[Any] = [_QUEUED, _RUNNING, _RUNNING, _QUEUED, now, *kinds]
    values += [_RUNNING, per_location, limit]
    values += [_RUNNING, worker_id, lease_until, now, _QUEUED]
    rows = await db.execute_query_dict(placeholders(sql, dialect), values)
    # The claimed rows come back with what a handler and the queue use: building them here saves
    # a read per claim. `_init_from_db` is how Tortoise turns a row into a model (types
    # converted); the datetimes are left out (a partial model, as `.only()` gives), their
    # parsing was most of a claim's CPU.
    jobs = [Job._init_from_db(**row) for row in rows]
    return sorted(jobs, key=lambda job: job.id)


async def complete(job_ids: Sequence[int], *, worker_id: str, now: datetime) -> int:
    """Mark jobs done in one statement; returns how many this worker still held."""
    if not job_ids:
        return 0
    sql = _COMPLETE_SQL.format(ids=", ".join("?" for _ in job_ids))
    return await execute(sql, [JobStatus.DONE.value, now, now, *job_ids, _RUNNING, worker_id])


_COMPLETE_SQL = """
UPDATE jobs SET status = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL,
    updated_at = ?
WHERE id IN ({ids}) AND status = ? AND lease_owner = ?
"""


def _leased(job_id: int, lease_owner: str, expired_before: datetime | None) -> QuerySet[Job]:
    query = Job.filter(id=job_id, status=JobStatus.RUNNING, lease_owner=lease_owner)
    if expired_before is not None:
        # Collecting a dead worker's job: it must still be expired, not renewed meanwhile.
        query = query.filter(lease_expires_at__lt=expired_before)
    return query


async def defer(job_id: int, *, lease_owner: str, run_after: datetime, now: datetime) -> bool:
    """Back to the queue untried: the claim's attempt is given back, the last error kept."""
    updated = await _leased(job_id, lease_owner, None).update(
        status=JobStatus.QUEUED,
        run_after=run_after,
        attempts=F("attempts") - 1,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=now,
    )
    return updated > 0


async def requeue(
    job_id: int,
    *,
    lease_owner: str,
    error: str,
    run_after: datetime,
    now: datetime,
    expired_before: datetime | None = None,
) -> bool:
    """Back to the queue after a failed attempt, to run again at `run_after`."""
    updated = await _leased(job_id, lease_owner, expired_before).update(
        status=JobStatus.QUEUED,
        run_after=run_after,
        last_error=error,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=now,
    )
    return updated > 0


async def park(
    job_id: int,
    *,
    lease_owner: str,
    error: str,
    now: datetime,
    expired_before: datetime | None = None,
) -> bool:
    """Parked as failed: it stays until someone retries it from the page."""
    updated = await _leased(job_id, lease_owner, expired_before).update(
        status=JobStatus.FAILED,
        last_error=error,
        finished_at=now,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=now,
    )
    return updated > 0


async def renew(job_ids: Sequence[int], *, worker_id: str, lease_until: datetime) -> None:
    """Extend this worker's leases, so a slow handler is not mistaken for a dead worker."""
    if job_ids:
        await Job.filter(
            id__in=list(job_ids), status=JobStatus.RUNNING, lease_owner=worker_id
        ).update(lease_expires_at=lease_until)


async def expired(now: datetime) -> list[dict[str, Any]]:
    """Running jobs whose worker stopped renewing its lease (it died, or its loop froze)."""
    return await Job.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now).values(
        "id", "location_id", "kind", "attempts", "max_attempts", "lease_owner"
    )


async def release(worker_id: str, *, now: datetime) -> list[int]:
    """Hand this worker's running jobs back to the queue (a clean shutdown).

    The interrupted attempt is not counted: the job did not fail, we stopped it.
    """
    ids: list[int] = await Job.filter(status=JobStatus.RUNNING, lease_owner=worker_id).values_list(
        "id", flat=True
    )  # type: ignore[assignment]
    if ids:
        await Job.filter(id__in=list(ids), status=JobStatus.RUNNING, lease_owner=worker_id).update(
            status=JobStatus.QUEUED,
            attempts=F("attempts") - 1,
            run_after=now,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
    return ids


def lease_end(now: datetime, lease_s: float) -> datetime:
    return now + timedelta(seconds=lease_s)
