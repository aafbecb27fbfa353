"""A GHL -> WhatsApp send waits its number's turn (bridge/pacing.py) and, when the number
wants it, shows "typing…" first (wa-js `WPP.chat.markIsComposing(chatId, duration)`,
chat/functions/markIsComposing.ts)."""

from __future__ import annotations

import asyncio
import logging
import uuid

from connectors.base import Engine, EngineError
from ghl_app.bridge import number_settings
from ghl_app.bridge.pacing import Pacer, Pacing
from ghl_app.jobs.errors import Deferred
from ghl_app.models import Message

log = logging.getLogger(__name__)

QUEUED_NOTE = "queued: paced sending, waiting for the number's next turn"


class SendTurns:
    def __init__(self, defaults: Pacing) -> None:
        self.defaults = defaults
        self._pacer = Pacer()

    async def take(
        self, engine: Engine, instance_id: uuid.UUID, message: Message, chat_id: str
    ) -> None:
        """Returns when the message may go; raises `Deferred` while its turn is far off."""
        settings = await number_settings.load(instance_id, message.location_id)
        pacing = settings.pacing(self.defaults)
        at_owner = getattr(engine, "pace_at_owner", None)
        if at_owner is not None:
            # Another worker's number (issue 17): its owner keeps the number's slots and takes
            # the turn right before it sends (`turn_at_owner`), so sends claimed by any worker
            # share one pace, measured where they leave.
            at_owner(message.id, pacing)
        else:
            await self._turn(instance_id, message.id, message.error, pacing)
        typing = pacing.typing_seconds(message.body or "")
        if typing > 0:
            try:
                await engine.mark_composing(chat_id, typing)
                await asyncio.sleep(typing)
            except EngineError as exc:  # "typing…" is a courtesy: the message still goes
                log.info(
                    "typing indicator failed: %s",
                    exc,
                    extra={"instance_id": str(instance_id), "location_id": message.location_id},
                )

    async def _turn(
        self, instance_id: uuid.UUID, message_id: int, note: str | None, pacing: Pacing
    ) -> None:
        wait = self._pacer.wait_for(instance_id, message_id, pacing)
        if wait > 0 and not Pacer.wait_in_place(wait):
            if note != QUEUED_NOTE:  # the journey shows it waiting, not stuck
                await Message.filter(id=message_id).update(error=QUEUED_NOTE)
            raise Deferred("paced: the number's next send turn is later", after_s=wait)
        if wait > 0:
            await asyncio.sleep(wait)

    async def turn_at_owner(self, instance_id: uuid.UUID, message_id: int, pacing: Pacing) -> None:
        """On the owner, for a send another worker claimed: wait for its turn here (raises
        `Deferred` while it is far off)."""
        await self._turn(instance_id, message_id, None, pacing)

    def done(self, instance_id: uuid.UUID, message_id: int) -> None:
        self._pacer.sent(instance_id, message_id)
