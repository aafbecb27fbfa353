"""WhatsApp -> GHL: every message event is stored first (unique on instance + WhatsApp id, so a
double emit is one row), then a job posts it into the contact's GHL conversation.

Messages typed on the phone itself (from-me, not sent by us) go to GHL as outbound messages of
the conversation. Our own sends were stored with their reserved WhatsApp id before they left, so
their echo finds its row here and is dropped: no echo, and no marker characters in any text.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from connectors.events import Ignored as IgnoredEvent
from connectors.events import Message as WaMessage
from ghl_app import phones
from ghl_app.bridge import _rows, event_kinds, number_settings
from ghl_app.bridge._errors import job_error
from ghl_app.bridge.contacts import (
    ensure_conversation,
    ensure_ghl_contact,
    forget_ghl_ids,
    is_not_found,
    local_contact,
)
from ghl_app.bridge.media.attach import InboundMedia
from ghl_app.bridge.media.links import MediaLinks
from ghl_app.bridge.posted import post_once
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import BudgetSpent, GhlApiError
from ghl_app.jobs import JobQueue
from ghl_app.jobs.errors import PermanentError, RetryableError
from ghl_app.models import (
    Contact,
    Direction,
    Instance,
    Job,
    JobStatus,
    Message,
    MessageStatus,
    Origin,
)
from ghl_app.sessions import SessionManager

# (the synced message, its GHL contact id)
SyncedListener = Callable[[_rows.SyncRow, str], Awaitable[None]]

log = logging.getLogger(__name__)

SYNC_TO_GHL = "wa_to_ghl"
RENAME_IN_GHL = "group_rename_in_ghl"
_IGNORED_CHATS = ("status@broadcast",)


def chat_key(instance_id: uuid.UUID, chat_id: str) -> str:
    """Jobs of one chat run in order: instance + chat."""
    return f"{instance_id}:{chat_id}"


class ConversationRequired(Exception):
    """GHL refused an inbound post that named only the contact."""


class InboundBridge:
    def __init__(
        self,
        *,
        queue: JobQueue,
        client: GhlClient,
        sessions: SessionManager,
        provider_id: str,
        media_links: MediaLinks,
    ) -> None:
        self._queue = queue
        self._client = client
        self._sessions = sessions
        self._provider_id = provider_id
        # Called after a message is in GHL (the workflow trigger "message received"); a
        # listener that fails fails the job, which retries it (its effects are idempotent).
        self.synced_listeners: list[SyncedListener] = []
        self._media = InboundMedia(client=client, sessions=sessions, links=media_links)
        # GHL takes an inbound post naming only the contact, until it refuses one (then every
        # post names its conversation, looked up first).
        self._contact_only = True
        queue.register(SYNC_TO_GHL, self._sync)
        queue.register(RENAME_IN_GHL, self._rename_in_ghl)

    async def store(self, instance_id: uuid.UUID, location_id: str, event: WaMessage) -> bool:
        """Persist one WhatsApp message and its sync job in one transaction. False = seen."""
        extra = {"instance_id": str(instance_id), "location_id": location_id}
        if event.chat_id in _IGNORED_CHATS or event.chat_id.endswith("@newsletter"):
            return False
        settings = await number_settings.load(instance_id, location_id)
        if settings.ignores(event.chat_id):
            return False  # the number's ignore list (issue 16)
        # A double emit, or the echo of a message we sent ourselves, meets the unique
        # (instance, WhatsApp id) constraint below: one round trip fewer than asking first.
        if event.is_group:
            instance = await Instance.get_or_none(id=instance_id, location_id=location_id)
            if instance is None or not instance.groups_enabled:
                return False
        contact = await local_contact(
            location_id,
            event.chat_id,
            sender_phone=event.sender_phone,
            name=event.chat_name if event.is_group or event.from_me else event.notify_name,
            is_group=event.is_group,
            instance_id=instance_id,
        )
        key = chat_key(instance_id, event.chat_id)
        if contact.phone_learned:
            await self._send_held(contact.id, location_id, extra)
        if contact.renamed_in_ghl:
            # Queued ahead of the message (same key): GHL shows the new subject by the time the
            # message lands. Committed on its own: a message that turns out to be a double emit
            # must not take the rename with it.
            await self._queue.enqueue(
                RENAME_IN_GHL,
                {"contact_id": contact.id},
                ordering_key=key,
                location_id=location_id,
            )
        origin = Origin.PHONE if event.from_me else Origin.WHATSAPP
        body, media_info = await event_kinds.message_parts(event, settings, location_id)
        if event.is_group and not event.from_me:
            sender = event.notify_name or phones.wa_user_from_wid(event.author or "") or "?"
            body = f"{sender}: {body}" if body else f"{sender}:"
        try:
            async with in_transaction() as conn:
                message_id = await _rows.insert_received(
                    conn,
                    instance_id=instance_id,
                    location_id=location_id,
                    contact_id=contact.id,
                    direction=Direction.OUTBOUND if event.from_me else Direction.INBOUND,
                    origin=origin,
                    wa_message_id=event.id,
                    body=body,
                    media=media_info,
                    sent_at=event.timestamp,
                )
                await self._queue.enqueue(
                    SYNC_TO_GHL,
                    {"message_id": message_id},
                    ordering_key=key,
                    location_id=location_id,
                    using_db=conn,
                )
        except IntegrityError:
            return False  # the same message raced in twice: one row won
        self._queue.wake()
        # DEBUG: at hundreds of messages a second one line per message is enough, and the
        # "synced" line (or the job's failure) is the one an operator needs.
        log.debug(
            "whatsapp message stored (%s)", origin.value, extra={**extra, "message_id": message_id}
        )
        return True

    async def _send_held(self, contact_id: int, location_id: str, extra: dict[str, Any]) -> None:
        """A LID chat's earlier messages failed for want of a phone (WhatsApp had not given
        it; it often does later, WAHA #1816): now that it has, they are queued again, ahead of
        the new one (same chat, earlier jobs)."""
        held = set(
            await Message.filter(
                location_id=location_id, contact_id=contact_id, status=MessageStatus.RECEIVED
            ).values_list("id", flat=True)
        )
        if not held:
            return
        failed = await Job.filter(
            location_id=location_id, kind=SYNC_TO_GHL, status=JobStatus.FAILED
        ).order_by("id")
        again = 0
        for job in failed:
            if job.payload.get("message_id") in held:
                await self._queue.retry(job.id, location_id=location_id)
                again += 1
        if again:
            log.info(
                "phone learned for a chat: %d earlier message(s) queued again", again, extra=extra
            )

    async def store_ignored(
        self, instance_id: uuid.UUID, location_id: str, event: IgnoredEvent
    ) -> None:
        """A system message, kept in the number's journey (status ignored, its type), once;
        not for chats the number leaves out (status, channels, groups when they are off)."""
        chat = event.chat_id
        if chat in _IGNORED_CHATS or chat.endswith("@newsletter"):
            return
        if (await number_settings.load(instance_id, location_id)).ignores(chat):
            return
        if chat.endswith("@g.us"):
            instance = await Instance.get_or_none(id=instance_id, location_id=location_id)
            if instance is None or not instance.groups_enabled:
                return
        try:
            await Message.create(
                instance_id=instance_id,
                location_id=location_id,
                direction=Direction.INBOUND,
                origin=Origin.WHATSAPP,
                wa_message_id=event.message_id,
                media={"type": event.type, "chat_id": event.chat_id},
                status=MessageStatus.IGNORED,
            )
        except IntegrityError:
            return  # fired twice

    async def _sync(self, job: Any) -> None:
        message = await _rows.load_for_sync(int(job.payload["message_id"]), job.location_id)
        if message is None or message.status == MessageStatus.SYNCED:
            return  # replaying a finished job creates nothing
        context = {
            "instance_id": str(message.instance_id),
            "location_id": message.location_id,
            "message_id": message.id,
        }
        try:
            try:
                contact_id, ghl_id = await self._post(message, context, cached=True)
            except GhlApiError as exc:
                if message.contact_id is None or not await self._gone(message, exc):
                    raise
                # Deleted in GHL since we cached its ids: found or created again, once.
                log.warning(
                    "GHL no longer has the chat's contact or conversation (%s): finding it again",
                    exc,
                    extra=context,
                )
                await forget_ghl_ids(message.contact_id, message.location_id)
                contact_id, ghl_id = await self._post(message, context, cached=False)
        except BudgetSpent as exc:
            raise job_error(exc) from exc  # waits for the location's budget: not an error
        except GhlApiError as exc:
            await _rows.record_error(message.id, str(exc))
            raise job_error(exc) from exc
        except (RetryableError, PermanentError) as exc:
            await _rows.record_error(message.id, str(exc))
            raise
        await self._mark_synced(message.id, ghl_id)
        log.info("message synced to GHL", extra=context)
        for listener in self.synced_listeners:
            await listener(message, contact_id)

    async def _gone(self, message: _rows.SyncRow, exc: GhlApiError) -> bool:
        """Whether the post failed because GHL no longer has the chat's cached contact or
        conversation. GHL may say so (a not-found answer) or answer a 500, as it does for a
        wrong conversation id (highlevel-api-docs issue #6): then both are looked up."""
        if is_not_found(exc):
            return True
        if exc.status < 500 or not (message.ghl_contact_id and message.ghl_conversation_id):
            return False
        try:
            await self._client.get_contact(message.location_id, message.ghl_contact_id)
            await self._client.get_conversation(message.location_id, message.ghl_conversation_id)
        except GhlApiError as probe:
            return is_not_found(probe)
        return False

    async def _post(
        self, message: _rows.SyncRow, context: dict[str, Any], *, cached: bool
    ) -> tuple[str, str]:
        """(GHL contact id, GHL message id): the message posted into its conversation once.

        A text message of a contact whose conversation we do not know yet is posted with the
        contact alone ("Either conversationId or contactId is required", marketplace page
        "Add an inbound message"), which saves the conversation search and create; the answer
        names the conversation. The spec and the SDK make `conversationId` required: if GHL
        refuses such a post, conversations are looked up first from then on."""
        required = (
            not self._contact_only or bool(message.media) or message.ghl_posted_at is not None
        )
        contact_id, conversation_id = await self._conversation(
            message, cached=cached, required=required
        )
        if conversation_id is None:
            try:
                return contact_id, await self._post_to(message, context, contact_id, None)
            except ConversationRequired as exc:
                self._contact_only = False
                log.warning(
                    "GHL wants a conversationId on inbound posts (%s): conversations are looked"
                    " up first from now on",
                    exc,
                    extra=context,
                )
            contact_id, conversation_id = await self._conversation(
                message, cached=cached, required=True
            )
        return contact_id, await self._post_to(message, context, contact_id, conversation_id)

    async def _post_to(
        self,
        message: _rows.SyncRow,
        context: dict[str, Any],
        contact_id: str,
        conversation_id: str | None,
    ) -> str:
        attachments: list[str] = []
        note: str | None = None
        if conversation_id is not None:  # a message with media always has its conversation
            attachments, note = await self._attachments(message, contact_id, conversation_id)
        text = message.body or ""
        if note:
            text = f"{text}\n{note}".strip()
        payload: dict[str, Any] = {
            "type": "SMS",
            "message": text,
            "contactId": contact_id,
            "altId": message.wa_message_id,
            "direction": "outbound" if message.origin == Origin.PHONE else "inbound",
            "date": (message.sent_at or datetime.now(UTC)).isoformat(),
        }
        if conversation_id is not None:
            payload["conversationId"] = conversation_id
        if self._provider_id:
            # Required for an extra provider; not for the default SMS provider
            # (ConversationProviders.md), which may run without one.
            payload["conversationProviderId"] = self._provider_id
        if attachments:
            payload["attachments"] = attachments
        try:
            ghl_id, answered = await post_once(
                self._client,
                message.location_id,
                conversation_id,
                payload,
                message_id=message.id,
                posted_at=message.ghl_posted_at,
                context=context,
            )
        except GhlApiError as exc:
            if (
                conversation_id is None
                and exc.status in (400, 422)
                and ("conversation" in exc.message.lower())
            ):
                raise ConversationRequired(exc.message) from exc
            raise
        except RetryableError as exc:
            if conversation_id is None:  # an empty answer to a post without a conversation
                raise ConversationRequired(exc.message) from exc
            raise
        if conversation_id is None and answered and message.contact_id is not None:
            await Contact.filter(id=message.contact_id, location_id=message.location_id).update(
                ghl_conversation_id=answered
            )
        return ghl_id

    async def _rename_in_ghl(self, job: Any) -> None:
        """A group's GHL contact takes its current subject (the latest rename wins)."""
        contact = await Contact.get_or_none(
            id=job.payload["contact_id"], location_id=job.location_id
        )
        if contact is None or not contact.ghl_contact_id or not contact.name:
            return  # gone (uninstalled), or not in GHL yet: it will be created with this name
        try:
            await self._client.rename_contact(
                contact.location_id, contact.ghl_contact_id, contact.name
            )
        except GhlApiError as exc:
            raise job_error(exc) from exc
        log.info(
            "group renamed in GHL",
            extra={
                "location_id": contact.location_id,
                "instance_id": str(contact.last_instance_id),
            },
        )

    async def _conversation(
        self, message: _rows.SyncRow, *, cached: bool, required: bool
    ) -> tuple[str, str | None]:
        """(GHL contact id, conversation id): from the row once known, else found or created;
        the conversation only when `required` or already known."""
        if cached and message.ghl_contact_id and message.ghl_conversation_id:
            return message.ghl_contact_id, message.ghl_conversation_id
        contact = await Contact.get_or_none(id=message.contact_id, location_id=message.location_id)
        if contact is None:
            raise PermanentError("the message has no contact in its location")
        if not required:
            if contact.ghl_contact_id and contact.ghl_conversation_id:
                return contact.ghl_contact_id, contact.ghl_conversation_id
            contact_id, _created = await ensure_ghl_contact(self._client, contact)
            return contact_id, None
        conversation_id = await ensure_conversation(self._client, contact)
        assert contact.ghl_contact_id is not None
        return contact.ghl_contact_id, conversation_id

    async def _mark_synced(self, message_id: int, ghl_id: str | None) -> None:
        try:
            await _rows.mark_synced(message_id, ghl_id)
        except IntegrityError:
            # GHL already handed this id to our Delivery URL (it echoed a phone message we
            # mirrored): that row must not go out again.
            await Message.filter(ghl_message_id=ghl_id, status=MessageStatus.PENDING).update(
                status=MessageStatus.SENT, error="echo of a message typed on the phone"
            )
            await _rows.mark_synced(message_id, None)

    async def _attachments(
        self, message: _rows.SyncRow, contact_id: str, conversation_id: str
    ) -> tuple[list[str], str | None]:
        # Uploaded, converted or linked (media/attach.py): never a reason to lose the text.
        return await self._media.attachments(message, contact_id, conversation_id)
