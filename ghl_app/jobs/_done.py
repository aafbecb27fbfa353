"""Group commit for finished jobs.

Each `done` write is a commit, and on SQLite a commit is an fsync: one per job caps throughput
at the disk's fsync rate. Handlers that finish while a write is in flight are marked done
together by the next write. A lone job is written at once, so this adds no latency when idle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

MarkDone = Callable[[Sequence[int]], Awaitable[int]]


class DoneBatcher:
    def __init__(self, mark_done: MarkDone) -> None:
        self._mark_done = mark_done
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def done(self, job_id: int) -> None:
        """Returns once the job is committed as done (or raises what the write raised)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((job_id, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="jobs-done-writer")
        await asyncio.shield(future)

    async def drain(self) -> None:
        """Wait for the write in flight, so nothing is released while it is being marked done."""
        if self._writer is not None:
            await asyncio.wait([self._writer])

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            ids = [job_id for job_id, _ in batch]
            try:
                held = await self._mark_done(ids)
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            if held < len(ids):
                # Another worker collected these after our lease lapsed: they may run twice.
                log.warning(
                    "%d of jobs %s finished after their lease was lost",
                    len(ids) - held,
                    ", ".join(map(str, ids)),
                )
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
