"""Another worker's engine, reached through the owner (issue 17).

Jobs run on whichever worker claims them; the engine of their instance runs on its owner. A
send, a media download, a read mark or a call decline from a worker that is not the owner goes
to the owner as one call and comes back as the engine's own answer or `EngineError`, so the
bridge handles it exactly as a local engine's. The call names the lease epoch it was addressed
under: an owner that no longer holds that epoch refuses it (`not_running`), and the job waits
for the new owner.
"""

from __future__ import annotations

import base64
import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from connectors.base import Engine, EngineError, Media, ResolvedId, SentMessage
from ghl_app.bridge.pacing import Pacing
from ghl_app.cluster.rpc import Rpc, Unreachable
from ghl_app.errors import AppError
from ghl_app.jobs.errors import Deferred

if TYPE_CHECKING:
    from ghl_app.bridge.send_turns import SendTurns
    from ghl_app.sessions import SessionManager

# A send may wait for its pacing turn and WhatsApp's answer; a download may be large.
_CALL_S = 90.0
# A download crosses in pieces of this size, held by the owner this long.
_PIECE = 4 * 1024 * 1024
_HOLD_S = 120.0


class RemoteEngine:
    """The `Engine` methods the bridge uses, carried out by the owner's engine."""

    def __init__(self, rpc: Rpc, owner: str, instance_id: uuid.UUID, epoch: int) -> None:
        self._rpc = rpc
        self.owner = owner
        self.instance_id = str(instance_id)
        self._epoch = epoch
        self._turn: dict[str, Any] | None = None

    @property
    def running(self) -> bool:
        return True  # a live lease; a dead owner shows as `not_running` at the call

    def pids(self) -> list[int]:
        return []

    async def start(self) -> None:
        raise EngineError("not_supported", "the owner starts its engines")

    async def stop(self) -> None:
        raise EngineError("not_supported", "the owner stops its engines")

    async def logout(self) -> None:
        raise EngineError("not_supported", "logout goes through the session commands")

    async def _call(self, op: str, **args: Any) -> Any:
        try:
            return await self._rpc.call(
                self.owner,
                "engine",
                _CALL_S,
                instance_id=self.instance_id,
                epoch=self._epoch,
                op=op,
                args=args,
            )
        except Unreachable as exc:
            raise EngineError("not_running", exc.message) from exc
        except AppError as exc:
            if exc.code == "paced":  # the owner says the number's turn is later
                raise Deferred(exc.message, after_s=float(exc.message.rsplit(" ", 1)[-1])) from exc
            raise

    async def send_text(self, chat_id: str, text: str, *, message_id: str) -> SentMessage:
        result = await self._call(
            "send_text", chat_id=chat_id, text=text, id=message_id, turn=self._take_turn()
        )
        return _sent(result)

    async def send_file(
        self,
        chat_id: str,
        data: bytes,
        *,
        mimetype: str,
        filename: str,
        caption: str | None,
        message_id: str,
        voice: bool = False,
    ) -> SentMessage:
        result = await self._call(
            "send_file",
            chat_id=chat_id,
            data=base64.b64encode(data).decode(),
            mimetype=mimetype,
            filename=filename,
            caption=caption,
            id=message_id,
            voice=voice,
            turn=self._take_turn(),
        )
        return _sent(result)

    async def download_media(self, message_id: str) -> Media:
        # In pieces: a file (up to 100 MB) in one bus message would pass Redis's output limit
        # for a subscriber (`client-output-buffer-limit pubsub`, 32 MB by default), which
        # drops the connection.
        result = await self._call("download_media", id=message_id)
        data = bytearray()
        while len(data) < int(result["size"]):
            piece = await self._call("media_piece", token=result["token"], offset=len(data))
            if not piece:
                raise EngineError("wa_error", "the owner no longer holds the download")
            data += base64.b64decode(piece)
        return Media(bytes(data), result["mimetype"], result["filename"])

    async def resolve_phone(self, phone: str) -> ResolvedId | None:
        result = await self._call("resolve_phone", phone=phone)
        return None if result is None else ResolvedId(result["wid"], result["lid"])

    def pace_at_owner(self, message_id: int, pacing: Pacing) -> None:
        """The next send takes the message's turn at the owner, right before it leaves
        (bridge/send_turns.py): the owner keeps the number's pace."""
        self._turn = {"message_id": message_id, "pacing": dataclasses.asdict(pacing)}

    def _take_turn(self) -> dict[str, Any] | None:
        turn, self._turn = self._turn, None  # a message's first part only
        return turn

    async def mark_read(self, chat_id: str) -> None:
        await self._call("mark_read", chat_id=chat_id)

    async def mark_composing(self, chat_id: str, seconds: float) -> None:
        await self._call("mark_composing", chat_id=chat_id, seconds=seconds)

    async def reject_call(self, call_id: str) -> bool:
        return bool(await self._call("reject_call", call_id=call_id))

    async def catch_up(self, since: int, chats: Mapping[str, int] | None = None) -> int:
        raise EngineError("not_supported", "catch-up runs on the owner")

    async def request_pairing_code(self, phone: str) -> str:
        raise EngineError("not_supported", "pairing goes through the session commands")


def serve_engine_calls(
    rpc: Rpc, sessions: SessionManager, turns: Callable[[], SendTurns | None]
) -> None:
    """On a worker: carry out other workers' engine calls for the instances it owns."""

    held: dict[str, tuple[float, bytes]] = {}  # downloads being fetched in pieces

    async def engine_call(params: dict[str, Any]) -> Any:
        iid = uuid.UUID(str(params["instance_id"]))
        engine = sessions.engine_for(iid)
        if engine is None or sessions.epoch_of(iid) != params.get("epoch"):
            raise EngineError("not_running", "this worker no longer runs that number")
        args = dict(params.get("args") or {})
        op = params.get("op")
        turn, pacer = args.get("turn"), turns()
        if turn and pacer is not None:
            try:
                await pacer.turn_at_owner(iid, int(turn["message_id"]), Pacing(**turn["pacing"]))
            except Deferred as exc:
                raise AppError("paced", f"the number's next send turn is in {exc.after_s}") from exc
        if op in ("send_text", "send_file"):
            result = await _send(engine, op, args)
            if turn and pacer is not None:
                pacer.done(iid, int(turn["message_id"]))
            return result
        if op == "download_media":
            media = await engine.download_media(args["id"])
            token = uuid.uuid4().hex
            held[token] = (time.monotonic() + _HOLD_S, media.data)
            for stale in [t for t, (until, _) in held.items() if until < time.monotonic()]:
                del held[stale]
            size = len(media.data)
            return {
                "token": token,
                "size": size,
                "mimetype": media.mimetype,
                "filename": media.filename,
            }
        if op == "media_piece":
            _until, data = held.get(args["token"], (0.0, b""))
            offset = int(args["offset"])
            if offset + _PIECE >= len(data):
                held.pop(args["token"], None)
            return base64.b64encode(data[offset : offset + _PIECE]).decode()
        if op == "resolve_phone":
            resolved = await engine.resolve_phone(args["phone"])
            return None if resolved is None else {"wid": resolved.wid, "lid": resolved.lid}
        if op == "mark_read":
            await engine.mark_read(args["chat_id"])
            return None
        if op == "mark_composing":
            await engine.mark_composing(args["chat_id"], float(args["seconds"]))
            return None
        if op == "reject_call":
            return await engine.reject_call(args["call_id"])
        raise EngineError("not_supported", f"no such engine call: {op}")

    rpc.handle("engine", engine_call)


async def _send(engine: Engine, op: str, args: dict[str, Any]) -> dict[str, Any]:
    if op == "send_text":
        sent = await engine.send_text(args["chat_id"], args["text"], message_id=args["id"])
        return _sent_dict(sent)
    sent = await engine.send_file(
        args["chat_id"],
        base64.b64decode(args["data"]),
        mimetype=args["mimetype"],
        filename=args["filename"],
        caption=args.get("caption"),
        message_id=args["id"],
        voice=bool(args.get("voice")),
    )
    return _sent_dict(sent)


def _sent_dict(sent: SentMessage) -> dict[str, Any]:
    recipients = list(sent.recipients) if sent.recipients is not None else None
    return {"id": sent.id, "serialized_id": sent.serialized_id, "recipients": recipients}


def _sent(result: dict[str, Any]) -> SentMessage:
    recipients = result.get("recipients")
    return SentMessage(
        result["id"],
        result["serialized_id"],
        tuple(recipients) if recipients is not None else None,
    )
