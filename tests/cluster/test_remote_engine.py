"""Another worker's engine through its owner, over a real Redis (issue 17): answers and
`EngineError`s come back as the engine gave them, a large download crosses in pieces (one bus
message of 100 MB would pass Redis's pub/sub output limit), and a call addressed under a lost
lease is refused."""

from __future__ import annotations

import os
import uuid
from typing import Any, cast

import pytest

from connectors.base import EngineError, Media, SentMessage
from ghl_app.bus.redis import RedisEventBus
from ghl_app.cluster.remote import RemoteEngine, serve_engine_calls
from ghl_app.cluster.rpc import Rpc
from ghl_app.supervisor import TaskSupervisor

pytestmark = pytest.mark.redis

IID = uuid.uuid4()
BIG = os.urandom(9 * 1024 * 1024 + 123)


class OwnersEngine:
    """The owner's engine: what it was asked, and its answers."""

    running = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def send_text(self, chat_id: str, text: str, *, message_id: str) -> SentMessage:
        self.calls.append(("send_text", (chat_id, text, message_id)))
        return SentMessage(message_id, f"true_{chat_id}_{message_id}", ("a@c.us", "b@c.us"))

    async def download_media(self, message_id: str) -> Media:
        self.calls.append(("download_media", message_id))
        if message_id == "gone":
            raise EngineError("media_gone", "WhatsApp no longer has it")
        return Media(BIG, "application/pdf", "big.pdf")


class OwnersSessions:
    def __init__(self, engine: OwnersEngine, epoch: int) -> None:
        self.engine, self.epoch = engine, epoch

    def engine_for(self, instance_id: uuid.UUID) -> OwnersEngine | None:
        return self.engine if instance_id == IID else None

    def epoch_of(self, instance_id: uuid.UUID) -> int | None:
        return self.epoch if instance_id == IID else None


async def test_calls_reach_the_owner_s_engine_and_come_back_as_its_answers(redis_url: str) -> None:
    supervisor = TaskSupervisor()
    owner_bus, caller_bus = RedisEventBus(redis_url), RedisEventBus(redis_url)
    await owner_bus.start()
    await caller_bus.start()
    owner, caller = Rpc(owner_bus, "worker-a", supervisor), Rpc(caller_bus, "worker-b", supervisor)
    engine = OwnersEngine()
    serve_engine_calls(owner, cast(Any, OwnersSessions(engine, epoch=7)), lambda: None)
    try:
        await owner.start()
        await caller.start()
        remote = RemoteEngine(caller, "worker-a", IID, epoch=7)
        sent = await remote.send_text("5511@c.us", "oi", message_id="3EB0AA")
        assert sent == SentMessage("3EB0AA", "true_5511@c.us_3EB0AA", ("a@c.us", "b@c.us"))
        media = await remote.download_media("m-1")
        assert (media.data, media.mimetype, media.filename) == (BIG, "application/pdf", "big.pdf")
        with pytest.raises(EngineError) as refused:
            await remote.download_media("gone")
        assert refused.value.code == "media_gone"
        # A caller that still holds the previous owner's epoch is refused: the number moved.
        stale = RemoteEngine(caller, "worker-a", IID, epoch=6)
        with pytest.raises(EngineError) as moved:
            await stale.send_text("5511@c.us", "late", message_id="3EB0BB")
        assert moved.value.code == "not_running"
        assert [c[0] for c in engine.calls] == ["send_text", "download_media", "download_media"]
        # An owner that is not there: the call ends as `not_running` (the job waits for the
        # next owner), not as a hang.
        nobody = RemoteEngine(caller, "worker-gone", IID, epoch=7)
        with pytest.raises(EngineError) as unreachable:
            await _quick(nobody)
        assert unreachable.value.code == "not_running"
    finally:
        owner.close()
        caller.close()
        await supervisor.shutdown()
        await owner_bus.close()
        await caller_bus.close()


async def _quick(engine: RemoteEngine) -> None:
    from ghl_app.cluster import remote

    before = remote._CALL_S
    remote._CALL_S = 1.0
    try:
        await engine.mark_read("5511@c.us")
    finally:
        remote._CALL_S = before
