"""`GET /ws?token=…`: live instance state and QR codes (contract.md, WebSocket).

Close codes: 4401 bad or expired token; 1009 a frame over 16 KiB; 4408 the client sends
faster than the op queue drains for too long. Everything else that is wrong with a frame
(malformed JSON, unknown op, another location's instance, rate limit) answers with a
`{"type": "error"}` frame and the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ghl_app.bus import EventBus, Subscription
from ghl_app.errors import AppError
from ghl_app.installed import require_installed
from ghl_app.page_tokens import PageClaims
from ghl_app.sessions import SessionManager
from web.auth import claims_from_query, require_admin

log = logging.getLogger(__name__)

MAX_FRAME = 16 * 1024
MAX_SUBSCRIPTIONS = 50
# Token bucket per socket: a burst of 20 ops, then 5 a second. Start is idempotent anyway;
# the bucket keeps one noisy tab from queueing work for everybody.
_BUCKET_SIZE = 20.0
_REFILL_PER_S = 5.0
_QUEUE_SIZE = 32
_OPS = ("subscribe", "unsubscribe", "start", "stop", "logout")
# Open sockets per page token and per location (issue 14: 500 sockets of one token were all
# accepted). A page uses one; a few tabs of one user, or a team's tabs, stay far below these.
MAX_SOCKETS_PER_TOKEN = 10
MAX_SOCKETS_PER_LOCATION = 100


class _SocketCount:
    """Open sockets of this process, counted per token and per location."""

    def __init__(self) -> None:
        self.per_token: Counter[str] = Counter()
        self.per_location: Counter[str] = Counter()

    @staticmethod
    def token_key(claims: PageClaims) -> str:
        return f"{claims.location_id}|{claims.user_id}|{claims.issued_at}|{claims.expires_at}"

    def admit(self, claims: PageClaims) -> bool:
        token = self.token_key(claims)
        if (
            self.per_token[token] >= MAX_SOCKETS_PER_TOKEN
            or self.per_location[claims.location_id] >= MAX_SOCKETS_PER_LOCATION
        ):
            return False
        self.per_token[token] += 1
        self.per_location[claims.location_id] += 1
        return True

    def release(self, claims: PageClaims) -> None:
        self.per_token[self.token_key(claims)] -= 1
        self.per_location[claims.location_id] -= 1
        self.per_token += Counter()  # drops the zeros
        self.per_location += Counter()


class _Client:
    def __init__(self, websocket: WebSocket, claims: PageClaims) -> None:
        self.websocket = websocket
        self.claims = claims
        self.services = websocket.app.state.services
        self.sessions: SessionManager = self.services.sessions
        self.bus: EventBus = self.services.bus
        self.subscriptions: dict[uuid.UUID, tuple[Subscription, asyncio.Task[None]]] = {}
        self.ops: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        self._send_lock = asyncio.Lock()
        self._tokens = _BUCKET_SIZE
        self._refilled = time.monotonic()
        self._limited_told = False

    async def send(self, message: dict[str, Any]) -> None:
        # ASCII-escaped: a lone surrogate echoed from a client's frame cannot be encoded as
        # UTF-8, and send_json's failure silently ended the socket's answers (issue 14, Low 9).
        text = json.dumps(message, separators=(",", ":"))
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def error(self, instance_id: Any, code: str, message: str) -> None:
        await self.send(
            {
                "type": "error",
                "instance_id": instance_id if isinstance(instance_id, str) else None,
                "error": {"code": code, "message": message},
            }
        )

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(_BUCKET_SIZE, self._tokens + (now - self._refilled) * _REFILL_PER_S)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        self._limited_told = False
        return True

    # -- ops ----------------------------------------------------------------------------

    async def run_ops(self) -> None:
        while True:
            frame = await self.ops.get()
            instance_id = frame.get("instance_id")
            try:
                await self.handle(frame["op"], instance_id)
            except AppError as exc:
                await self.error(instance_id, exc.code, exc.message)
            except WebSocketDisconnect:
                return
            except Exception:
                log.exception(
                    "ws op %s failed", frame["op"], extra={"location_id": self.claims.location_id}
                )
                await self.error(instance_id, "internal_error", "Something went wrong on our side.")

    async def handle(self, op: str, instance_id: Any) -> None:
        if not isinstance(instance_id, str):
            raise AppError("invalid_instance_id", "Send the instance_id as a string.")
        location_id = self.claims.location_id
        instance = await self.sessions.get_instance(instance_id, location_id)
        if op == "subscribe":
            await self.subscribe(instance.id)
        elif op == "unsubscribe":
            self.unsubscribe(instance.id)
        elif op == "start":
            await self.subscribe(instance.id)  # whoever starts wants to see the QR
            # Shielded: a tab closed mid-start must not leave a half-started engine behind.
            result = await asyncio.shield(self.sessions.start(instance.id, location_id=location_id))
            await self.send(
                {"type": "instance", "instance": self.sessions.snapshot(result.instance)}
            )
            if result.qr is not None:
                await self.send(
                    {"type": "qr", "instance_id": str(instance.id), "qr": result.qr.to_dict()}
                )
        elif op == "stop":
            await asyncio.shield(self.sessions.stop(instance.id, location_id=location_id))
        elif op == "logout":
            require_admin(self.claims)
            await asyncio.shield(self.sessions.logout(instance.id, location_id=location_id))

    async def subscribe(self, instance_id: uuid.UUID) -> None:
        if instance_id in self.subscriptions:
            return
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise AppError("too_many_subscriptions", "Unsubscribe from another instance first.")
        # Subscribe before the snapshot so no change falls between the two.
        subscription = self.bus.subscribe(f"instance:{instance_id}")
        task = asyncio.create_task(self._forward(subscription), name=f"ws-forward:{instance_id}")
        self.subscriptions[instance_id] = (subscription, task)
        # On Redis, changes reach this subscription once the server confirmed it: wait for that
        # (bounded) so none falls between the subscription and the snapshot.
        if not await subscription.ready():
            log.warning("event bus: subscription to instance %s not confirmed in time", instance_id)
        instance = await self.sessions.get_instance(instance_id, self.claims.location_id)
        await self.send({"type": "instance", "instance": self.sessions.snapshot(instance)})
        qr = await self.sessions.qr_of(instance_id)
        if qr is not None:
            await self.send({"type": "qr", "instance_id": str(instance_id), "qr": qr.to_dict()})

    def unsubscribe(self, instance_id: uuid.UUID) -> None:
        entry = self.subscriptions.pop(instance_id, None)
        if entry is not None:
            entry[0].close()
            entry[1].cancel()

    async def _forward(self, subscription: Subscription) -> None:
        with contextlib.suppress(Exception):  # the socket went away: the endpoint cleans up
            async for event in subscription:
                await self.send(event)

    def close_all(self) -> None:
        for instance_id in list(self.subscriptions):
            self.unsubscribe(instance_id)

    # -- frames ---------------------------------------------------------------------------

    async def receive(self) -> bool:
        """Read one frame and queue its op; False when the socket is done."""
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return False
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            if len(data) > MAX_FRAME:
                await self.websocket.close(1009, "frame too large")
                return False
            await self.error(None, "bad_frame", "Send JSON text frames.")
            return True
        if len(text.encode()) > MAX_FRAME:
            await self.websocket.close(1009, "frame too large")
            return False
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: an over-nested frame
            await self.error(None, "invalid_json", "The frame is not valid JSON.")
            return True
        if not isinstance(frame, dict) or frame.get("op") not in _OPS:
            op = frame.get("op") if isinstance(frame, dict) else None
            instance_id = frame.get("instance_id") if isinstance(frame, dict) else None
            await self.error(instance_id, "unknown_op", f"Unknown op {str(op)[:40]!r}.")
            return True
        if not self.allow():
            if not self._limited_told:
                self._limited_told = True
                await self.error(
                    frame.get("instance_id"), "rate_limited", "Too many requests; slow down."
                )
            return True
        try:
            self.ops.put_nowait(frame)
        except asyncio.QueueFull:
            await self.websocket.close(4408, "too many pending requests")
            return False
        return True


async def websocket_endpoint(websocket: WebSocket) -> None:
    try:
        claims = claims_from_query(websocket)
        await require_installed(claims)
    except AppError as exc:
        await websocket.accept()
        await websocket.close(4401, exc.code)
        return
    counts: _SocketCount | None = getattr(websocket.app.state, "ws_sockets", None)
    if counts is None:
        counts = websocket.app.state.ws_sockets = _SocketCount()
    await websocket.accept()
    if not counts.admit(claims):
        log.info("socket refused: too many open", extra={"location_id": claims.location_id})
        await websocket.close(4429, "too many open sockets")
        return
    client = _Client(websocket, claims)
    worker = asyncio.create_task(client.run_ops(), name="ws-ops")
    try:
        while await client.receive():
            pass
    except WebSocketDisconnect:
        pass
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker
        client.close_all()
        counts.release(claims)


routes = [WebSocketRoute("/ws", websocket_endpoint)]
