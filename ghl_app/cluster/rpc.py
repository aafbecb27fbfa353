"""Request and reply between processes, over the event bus (Redis between nodes).

Each process listens on its own topic, `node:<node id>`. A call goes to the target's topic with
the caller's id; the answer comes back on the caller's. Nothing is queued for a process that is
not there: a call to a dead worker times out (the caller's job is retried, and by then the
instance has a new owner). Errors travel as the app's own: an `AppError` or an `EngineError`
raised by the handler is raised again, code and message intact, at the caller.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from connectors.base import EngineError
from ghl_app.bus import EventBus, Subscription
from ghl_app.errors import AppError
from ghl_app.supervisor import TaskSupervisor

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
# Enough for a burst of sends to one worker; a subscription drops its oldest beyond this.
_BACKLOG = 10_000


class Unreachable(AppError):
    def __init__(self, node: str, method: str) -> None:
        super().__init__(
            "worker_unreachable",
            f"The worker running this number did not answer ({method}). Try again shortly.",
            503,
        )
        self.node = node


class Rpc:
    def __init__(self, bus: EventBus, node_id: str, supervisor: TaskSupervisor) -> None:
        self.node_id = node_id
        self._bus = bus
        self._supervisor = supervisor
        self._handlers: dict[str, Handler] = {}
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._subscription: Subscription | None = None

    def handle(self, method: str, handler: Handler) -> None:
        self._handlers[method] = handler

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(_topic(self.node_id), maxsize=_BACKLOG)
        if not await self._subscription.ready():
            log.warning("rpc: the bus did not confirm this node's topic in time")
        self._supervisor.spawn("rpc-listen", self._listen(self._subscription))

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        for future in self._waiting.values():
            if not future.done():
                future.cancel()

    async def call(self, node: str, method: str, timeout_s: float = 30.0, **params: Any) -> Any:
        call_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        try:
            await self._bus.publish(
                _topic(node),
                {
                    "kind": "call",
                    "id": call_id,
                    "from": self.node_id,
                    "method": method,
                    "params": params,
                },
            )
            try:
                async with asyncio.timeout(timeout_s):
                    reply = await future
            except TimeoutError:
                log.warning("rpc: %s on %s got no answer within %.0f s", method, node, timeout_s)
                raise Unreachable(node, method) from None
        finally:
            self._waiting.pop(call_id, None)
        if reply.get("ok"):
            return reply.get("result")
        error = reply.get("error") or {}
        code, message = str(error.get("code", "error")), str(error.get("message", ""))
        if error.get("engine"):
            raise EngineError(code, message)
        raise AppError(code, message, int(error.get("status") or 500))

    async def _listen(self, subscription: Subscription) -> None:
        async for message in subscription:
            if message.get("kind") == "reply":
                future = self._waiting.get(str(message.get("id")))
                if future is not None and not future.done():
                    future.set_result(message)
            elif message.get("kind") == "call":
                self._supervisor.spawn(f"rpc-{message.get('method')}", self._answer(message))

    async def _answer(self, message: dict[str, Any]) -> None:
        method = str(message.get("method"))
        reply: dict[str, Any] = {"kind": "reply", "id": message.get("id")}
        handler = self._handlers.get(method)
        try:
            if handler is None:
                raise AppError("unknown_method", f"no such call: {method}", 500)
            reply["result"] = await handler(dict(message.get("params") or {}))
            reply["ok"] = True
        except AppError as exc:
            reply["ok"] = False
            reply["error"] = {"code": exc.code, "message": exc.message, "status": exc.status}
        except EngineError as exc:
            reply["ok"] = False
            reply["error"] = {"code": exc.code, "message": str(exc), "engine": True}
        except Exception as exc:
            log.exception("rpc: %s failed", method)
            reply["ok"] = False
            reply["error"] = {"code": "worker_error", "message": str(exc)[:300], "status": 502}
        await self._bus.publish(_topic(str(message.get("from"))), reply)


def _topic(node: str) -> str:
    return f"node:{node}"
