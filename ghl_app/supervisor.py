"""Supervised background tasks: every task has a name and an owner that cancels it on shutdown,
and a crash is logged with its context, never swallowed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskSupervisor:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task %s crashed", task.get_name(), exc_info=exc)

    @property
    def names(self) -> list[str]:
        return sorted(task.get_name() for task in self._tasks)

    async def shutdown(self, grace_s: float = 10.0) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                log.warning(
                    "background task %s did not stop within %.0fs", task.get_name(), grace_s
                )
