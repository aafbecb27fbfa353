"""Read state both ways (issue 16), per number (`read_sync`, on by default):

- an agent opens the conversation in GHL (ConversationUnreadUpdate with unreadCount 0): the
  WhatsApp chat is marked read (wa-js `WPP.chat.markIsRead`, the read receipts), through the
  number that last served the chat;
- the chat is read on the phone (wa-js `chat.unread_count_changed` to 0): the GHL conversation
  is marked read (`PUT /conversations/{id}` unreadCount 0), by a job queued behind the chat's
  messages so it lands after them.

The two can echo each other once (marking read on one side reads the other); each is a state,
so the echo changes nothing and stops there.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from connectors.base import EngineError
from connectors.events import ChatRead
from ghl_app.bridge import number_settings
from ghl_app.bridge._errors import job_error
from ghl_app.bridge.inbound import chat_key
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import BudgetSpent, GhlApiError
from ghl_app.jobs import JobQueue
from ghl_app.models import Contact
from ghl_app.sessions import SessionManager

log = logging.getLogger(__name__)

MARK_READ_IN_GHL = "ghl_mark_read"


class ReadSync:
    def __init__(self, *, queue: JobQueue, client: GhlClient, sessions: SessionManager) -> None:
        self._queue = queue
        self._client = client
        self._sessions = sessions
        queue.register(MARK_READ_IN_GHL, self._mark_read_in_ghl)

    async def on_ghl_read(self, location_id: str, conversation_id: str, contact_id: str) -> None:
        """An agent read the conversation in GHL: its WhatsApp chat(s) are marked read."""
        chats = Contact.filter(location_id=location_id, ghl_conversation_id=conversation_id)
        if contact_id:
            chats = Contact.filter(location_id=location_id, ghl_contact_id=contact_id)
        for contact in await chats:
            if contact.last_instance_id is None:
                continue
            extra = {"instance_id": str(contact.last_instance_id), "location_id": location_id}
            settings = await number_settings.load(contact.last_instance_id, location_id)
            if not settings.read_sync:
                continue
            engine = await self._sessions.engine_of(contact.last_instance_id)
            if engine is None or not engine.running:
                log.info("read in GHL while the number is not running: not mirrored", extra=extra)
                continue
            try:
                await engine.mark_read(contact.chat_id)
            except EngineError as exc:
                log.warning("marking a WhatsApp chat read failed: %s", exc, extra=extra)
                continue
            log.info("read in GHL: WhatsApp chat marked read", extra=extra)

    async def on_chat_read(self, instance_id: uuid.UUID, location_id: str, event: ChatRead) -> None:
        """The chat was read on the phone: its GHL conversation is marked read, by a job."""
        settings = await number_settings.load(instance_id, location_id)
        if not settings.read_sync or settings.ignores(event.chat_id):
            return
        contact = await Contact.get_or_none(location_id=location_id, chat_id=event.chat_id)
        if contact is None:
            return  # a chat GHL never heard of
        await self._queue.enqueue(
            MARK_READ_IN_GHL,
            {"contact_id": contact.id},
            ordering_key=chat_key(instance_id, event.chat_id),
            location_id=location_id,
        )
        self._queue.wake()

    async def _mark_read_in_ghl(self, job: Any) -> None:
        contact = await Contact.get_or_none(
            id=job.payload["contact_id"], location_id=job.location_id
        )
        if contact is None or not contact.ghl_conversation_id:
            return  # gone, or never reached GHL: nothing reads as unread there
        try:
            await self._client.mark_conversation_read(
                contact.location_id, contact.ghl_conversation_id
            )
        except (BudgetSpent, GhlApiError) as exc:
            raise job_error(exc) from exc
        log.info(
            "read on the phone: GHL conversation marked read",
            extra={
                "location_id": contact.location_id,
                "instance_id": str(contact.last_instance_id),
            },
        )
