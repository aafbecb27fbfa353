"""The durable job queue: insert first, process after, in order per key, retried, never lost.

Every fact lives in the `jobs` table; this object only remembers which of its own claims are
running right now. Its rules:

- Jobs sharing an `ordering_key` run one at a time, by id. A job waiting for its retry (queued with
  a later `run_after`) or running blocks every later job of its key. When a job is parked as
  failed, its key moves on to the next job: one poisoned message must not stall a chat forever.
  `retry()` puts a parked job back at its original place (its id), so it runs before any later
  job of its key that has not started yet.
- Different keys run in parallel, up to `concurrency` handlers per process.
- A claim is one guarded UPDATE that also takes a lease (owner + expiry). Running jobs' leases are
  renewed while they run; a job whose lease expired (its worker died) is queued again.
- A handler may run more than once for one job (a worker killed after the handler's side effect,
  before `done` was written): handlers must be idempotent.
- Postgres: ids come from a sequence, so two transactions enqueueing for the same key can commit
  out of id order; a caller that needs strict order across concurrent transactions serialises
  them (the bridge does, per chat). SQLite commits one writer at a time, in id order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ghl_app.errors import AppError
from ghl_app.jobs import _store
from ghl_app.jobs._done import DoneBatcher
from ghl_app.jobs.backoff import retry_delay
from ghl_app.jobs.errors import Deferred, PermanentError, RetryableError
from ghl_app.models import Job, JobStatus
from ghl_app.supervisor import TaskSupervisor

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]

_MAX_ERROR_CHARS = 2000
_GATHER_S = 0.002


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _default_worker_id() -> str:
    # Unique per process start: a restarted process must not mistake its predecessor's leases
    # for its own (they come back through lease expiry instead).
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


def _describe(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, RetryableError) else str(exc)
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:_MAX_ERROR_CHARS]


class JobQueue:
    def __init__(
        self,
        *,
        worker_id: str | None = None,
        concurrency: int = 8,
        per_location: int | None = None,
        lease_s: float = 60,
        poll_s: float = 0.5,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease_s <= 0 or poll_s <= 0:
            raise ValueError("lease_s and poll_s must be positive")
        self.worker_id = worker_id or _default_worker_id()
        self.concurrency = concurrency
        # A location's share of the slots: one location's slow jobs (a trickling attachment, a
        # slow GHL answer) wait on their own slots, never on everyone's (issue 14).
        self.per_location = per_location or max(1, concurrency // 4)
        if self.per_location < 1:
            raise ValueError("per_location must be at least 1")
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        # Leases are renewed (and dead workers' leases collected) four times per lease period.
        self._maintain_every_s = lease_s / 4
        self._handlers: dict[str, Handler] = {}
        # Told of each run's outcome (kind, "done" | "retried" | "failed" | "deferred").
        self.observers: list[Callable[[str, str], None]] = []
        self._running: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self.on_wake: Callable[[], None] | None = None
        self._poller: asyncio.Task[Any] | None = None
        self._stopping = False
        self._done = DoneBatcher(self._mark_done)

    # -- the producer side -----------------------------------------------------------------

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every job kind a handler is registered for."""
        return tuple(self._handlers)

    def register(self, kind: str, handler: Handler) -> None:
        """Route jobs of `kind` to `handler`. Jobs of unregistered kinds wait in the queue."""
        if kind in self._handlers:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        self._handlers[kind] = handler
        self.wake()

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        ordering_key: str,
        location_id: str | None = None,
        max_attempts: int = 8,
        run_after: datetime | None = None,
        using_db: BaseDBAsyncClient | None = None,
    ) -> Job:
        """Insert a job. Pass the caller's transaction as `using_db` so the job commits (or rolls
        back) with the row it is about; then call `wake()` after the commit. Without `using_db`
        the job is committed at once and the poller is woken here."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if run_after is not None and run_after.tzinfo is None:
            raise ValueError("run_after must be timezone-aware")
        now = _utcnow()
        job = await _store.insert(
            kind=kind,
            payload=payload,
            ordering_key=ordering_key,
            location_id=location_id,
            max_attempts=max_attempts,
            run_after=run_after or now,
            now=now,
            using_db=using_db,
        )
        if using_db is None:
            self.wake()
        return job

    def wake(self) -> None:
        """Nudge the poller: new work may be claimable now, not at the next poll."""
        self._wake.set()
        if self.on_wake is not None:
            self.on_wake()  # the workers of a scaled-out deployment hear it (cluster/wakeups.py)

    def wake_here(self) -> None:
        self._wake.set()

    # -- the page's side -------------------------------------------------------------------

    async def retry(self, job_id: int, *, location_id: str) -> Job:
        """Put a parked (failed) job of this location back in the queue with fresh attempts."""
        now = _utcnow()
        updated = await Job.filter(
            id=job_id, location_id=location_id, status=JobStatus.FAILED
        ).update(
            status=JobStatus.QUEUED, attempts=0, run_after=now, finished_at=None, updated_at=now
        )
        job = await Job.get_or_none(id=job_id, location_id=location_id)
        if job is None:
            raise AppError("job_not_found", "No such job in this location.", 404)
        if not updated:
            raise AppError(
                "job_not_failed", f"Only failed jobs can be retried; this one is {job.status}.", 409
            )
        log.info(
            "job %s (%s) queued again by hand",
            job.id,
            job.kind,
            extra={"job_id": job.id, "location_id": location_id},
        )
        self.wake()
        return job

    async def list_jobs(
        self, *, location_id: str, status: JobStatus | str | None = None, limit: int = 50
    ) -> list[Job]:
        """This location's jobs, newest first."""
        query = Job.filter(location_id=location_id)
        if status is not None:
            query = query.filter(status=JobStatus(status))
        return await query.order_by("-id").limit(max(1, min(limit, 500)))

    # -- the worker side -------------------------------------------------------------------

    async def start(self, supervisor: TaskSupervisor) -> None:
        if self._poller is not None:
            return
        self._stopping = False
        # Leases this worker id held before (a stable, configured id restarting) are stale now.
        released = await _store.release(self.worker_id, now=_utcnow())
        if released:
            log.info("released %d job(s) left running by a previous run", len(released))
        self._poller = supervisor.spawn("jobs-poller", self._poll_loop())

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming, let running handlers finish for up to `grace_s`, then interrupt the
        rest and hand their jobs back to the queue (their attempt not counted)."""
        self._stopping = True
        self.wake()
        if self._poller is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._poller), timeout=max(grace_s, 1.0))
            except TimeoutError:
                self._poller.cancel()
            except Exception:
                log.exception("job poller ended with an error")
            self._poller = None
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=max(grace_s, 1.0))
        await self._done.drain()
        released = await _store.release(self.worker_id, now=_utcnow())
        if released:
            log.warning(
                "stopped with %d job(s) unfinished; queued again: %s",
                len(released),
                ", ".join(map(str, released)),
            )

    @property
    def running_count(self) -> int:
        return len(self._running)

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_maintenance = 0.0
        while not self._stopping:
            # Cleared before looking, so a wake() that arrives mid-claim is not lost.
            self._wake.clear()
            try:
                if loop.time() >= next_maintenance:
                    await self._maintain_leases()
                    next_maintenance = loop.time() + self._maintain_every_s
                await self._claim_and_run()
            except Exception:
                # A database hiccup must not end the worker: log it, try again at the next poll.
                log.exception("job poll failed")
            if self._stopping:
                break
            timeout = max(0.0, min(self.poll_s, next_maintenance - loop.time()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # no extra task, unlike wait_for
                    await self._wake.wait()
            if self._running:
                # Busy: let the wakes of a few more finished or enqueued jobs gather, so one
                # claim serves them together (a claim per wake was the queue's largest cost
                # under load). Idle, a new job is claimed at once.
                await asyncio.sleep(_GATHER_S)

    async def _claim_and_run(self) -> None:
        free = self.concurrency - len(self._running)
        if free <= 0 or not self._handlers:
            return
        now = _utcnow()
        jobs = await _store.claim(
            worker_id=self.worker_id,
            kinds=list(self._handlers),
            limit=free,
            now=now,
            lease_until=_store.lease_end(now, self.lease_s),
            per_location=self.per_location,
        )
        for job in jobs:
            task = asyncio.create_task(self._run(job), name=f"job-{job.id}-{job.kind}")
            self._running[job.id] = task
            task.add_done_callback(functools.partial(self._finished, job.id))

    def _finished(self, job_id: int, task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("job task %s crashed", task.get_name(), exc_info=task.exception())
        # A slot is free, and the next job of this key may now be the head.
        self.wake()

    async def _run(self, job: Job) -> None:
        context = {"job_id": job.id, "location_id": job.location_id}
        try:
            await self._handlers[job.kind](job)
        except asyncio.CancelledError:
            raise  # stop() hands the job back to the queue
        except Deferred as exc:
            await _store.defer(
                job.id,
                lease_owner=self.worker_id,
                run_after=_utcnow() + timedelta(seconds=exc.after_s),
                now=_utcnow(),
            )
            log.debug("job %s deferred %.1fs: %s", job.id, exc.after_s, exc.message, extra=context)
            self._observe(job.kind, "deferred")
            return
        except Exception as exc:
            await self._record_failure(job, exc)
            return
        self._observe(job.kind, "done")
        try:
            await self._done.done(job.id)
        except Exception:
            # The lease runs out and another attempt follows: at least once, never lost.
            log.exception(
                "job %s (%s) ran but could not be marked done", job.id, job.kind, extra=context
            )

    def _observe(self, kind: str, outcome: str) -> None:
        for observe in self.observers:
            try:
                observe(kind, outcome)
            except Exception:
                log.exception("job observer failed")

    async def _mark_done(self, job_ids: Sequence[int]) -> int:
        return await _store.complete(job_ids, worker_id=self.worker_id, now=_utcnow())

    async def _record_failure(self, job: Job, exc: Exception) -> None:
        context = {"job_id": job.id, "location_id": job.location_id}
        error = _describe(exc)
        now = _utcnow()
        expected = isinstance(exc, RetryableError | PermanentError)
        if isinstance(exc, PermanentError) or job.attempts >= job.max_attempts:
            await _store.park(job.id, lease_owner=self.worker_id, error=error, now=now)
            self._observe(job.kind, "failed")
            log.error(
                "job %s (%s) parked as failed after %d attempt(s): %s",
                job.id,
                job.kind,
                job.attempts,
                error,
                extra=context,
                exc_info=None if expected else exc,
            )
            return
        retry_after = exc.retry_after_s if isinstance(exc, RetryableError) else None
        delay = retry_delay(
            job.attempts,
            base_s=self.base_backoff_s,
            max_s=self.max_backoff_s,
            retry_after_s=retry_after,
        )
        await _store.requeue(
            job.id,
            lease_owner=self.worker_id,
            error=error,
            run_after=now + timedelta(seconds=delay),
            now=now,
        )
        self._observe(job.kind, "retried")
        log.warning(
            "job %s (%s) attempt %d/%d failed, retrying in %.1fs: %s",
            job.id,
            job.kind,
            job.attempts,
            job.max_attempts,
            delay,
            error,
            extra=context,
            exc_info=None if expected else exc,
        )

    async def _maintain_leases(self) -> None:
        now = _utcnow()
        await _store.renew(
            list(self._running),
            worker_id=self.worker_id,
            lease_until=_store.lease_end(now, self.lease_s),
        )
        for row in await _store.expired(now):
            await self._recover(row, now)

    async def _recover(self, row: dict[str, Any], now: datetime) -> None:
        """Another worker's lease ran out: it died or froze mid-job. The attempt it made counts
        (a job that kills its worker every time must end up parked, not loop forever)."""
        context = {"job_id": row["id"], "location_id": row["location_id"]}
        error = f"worker {row['lease_owner']} stopped renewing its lease mid-job"
        if row["attempts"] >= row["max_attempts"]:
            parked = await _store.park(
                row["id"], lease_owner=row["lease_owner"], error=error, now=now, expired_before=now
            )
            if parked:
                log.error(
                    "job %s (%s) parked as failed after %d attempt(s): %s",
                    row["id"],
                    row["kind"],
                    row["attempts"],
                    error,
                    extra=context,
                )
            return
        delay = retry_delay(row["attempts"], base_s=self.base_backoff_s, max_s=self.max_backoff_s)
        requeued = await _store.requeue(
            row["id"],
            lease_owner=row["lease_owner"],
            error=error,
            run_after=now + timedelta(seconds=delay),
            now=now,
            expired_before=now,
        )
        if requeued:
            log.warning(
                "job %s (%s) attempt %d/%d lost with its worker, retrying in %.1fs",
                row["id"],
                row["kind"],
                row["attempts"],
                row["max_attempts"],
                delay,
                extra=context,
            )
            self.wake()
