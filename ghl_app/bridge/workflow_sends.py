"""GHL workflow action -> WhatsApp, and the sent message into the GHL conversation.

A call of the "Send WhatsApp message" action is stored (with its execution key, unique) and its
send job queued in one transaction before GHL gets an answer, so a crash loses nothing and a
repeated call sends nothing. The send is the same job as a reply typed in GHL (outbound.py).

GHL did not create this message, so it has no GHL message id: once WhatsApp took it, a job posts
it into the contact's conversation as an outbound message of our provider (the inbound endpoint
with `direction: "outbound"`, as for messages typed on the phone), keeps the id GHL gives, and
from then on acks become delivered / read on it like any reply.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from connectors.base import new_message_id
from ghl_app.bridge._errors import job_error
from ghl_app.bridge.acks import report_status
from ghl_app.bridge.contacts import ensure_conversation
from ghl_app.bridge.outbound import MIRROR_TO_GHL, SEND_TO_WHATSAPP, WORKFLOW_MARK
from ghl_app.bridge.posted import post_once
from ghl_app.errors import AppError
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import GhlApiError
from ghl_app.ghl.workflow_actions import SendAction
from ghl_app.jobs import JobQueue
from ghl_app.jobs.errors import PermanentError
from ghl_app.models import (
    Contact,
    Direction,
    Instance,
    Location,
    Message,
    MessageStatus,
    Origin,
    WorkflowAction,
)

log = logging.getLogger(__name__)


class WorkflowSends:
    def __init__(self, *, queue: JobQueue, client: GhlClient, provider_id: str) -> None:
        self._queue = queue
        self._client = client
        self._provider_id = provider_id
        queue.register(MIRROR_TO_GHL, self._mirror)

    async def accept(self, action: SendAction) -> tuple[Message, bool]:
        """(the message, True) when stored now; (the earlier message, False) for a repeat."""
        location = await Location.get_or_none(location_id=action.location_id)
        if location is None or not location.is_installed:
            raise AppError("not_installed", "This location has not installed the app.", 404)
        if action.instance_id is not None and not await Instance.exists(
            id=action.instance_id, location_id=action.location_id
        ):
            raise AppError("unknown_number", "from_number is not a number of this location.", 400)
        earlier = await self._earlier(action)
        if earlier is not None:
            return earlier, False
        extra = {"location_id": action.location_id}
        try:
            async with in_transaction() as conn:
                message = await Message.create(
                    location_id=action.location_id,
                    direction=Direction.OUTBOUND,
                    # From GHL, with no GHL message yet: `media.workflow` marks it for the
                    # mirror after the send. (Not a new Origin value: altering that column
                    # rebuilds the SQLite table and Tortoise drops its unique constraints.)
                    origin=Origin.GHL,
                    # Reserved before anything is sent: the echo of this send is recognised.
                    wa_message_id=new_message_id(),
                    body=action.text,
                    media={
                        **({"attachments": list(action.attachments)} if action.attachments else {}),
                        WORKFLOW_MARK: action.workflow_id or "",
                    },
                    status=MessageStatus.PENDING,
                    using_db=conn,
                )
                await WorkflowAction.create(
                    location_id=action.location_id,
                    execution_key=action.execution_keys[0],
                    workflow_id=action.workflow_id,
                    ghl_contact_id=action.contact_id,
                    message_id=message.id,
                    using_db=conn,
                )
                await self._queue.enqueue(
                    SEND_TO_WHATSAPP,
                    {
                        "message_id": message.id,
                        "contact_id": action.contact_id,
                        "phone": "",
                        "instance_id": str(action.instance_id) if action.instance_id else None,
                    },
                    ordering_key=f"{action.location_id}:{action.contact_id}",
                    location_id=action.location_id,
                    using_db=conn,
                )
        except IntegrityError:
            # The same execution raced in twice: the other call stored it.
            earlier = await self._earlier(action)
            if earlier is None:
                raise
            return earlier, False
        self._queue.wake()
        log.info("workflow send stored", extra={**extra, "message_id": message.id})
        return message, True

    async def _earlier(self, action: SendAction) -> Message | None:
        row = await WorkflowAction.filter(
            execution_key__in=list(action.execution_keys), location_id=action.location_id
        ).first()
        if row is None or row.message_id is None:
            return None
        return await Message.get_or_none(id=row.message_id, location_id=action.location_id)

    async def _mirror(self, job: Any) -> None:
        location_id = str(job.location_id)
        message = await Message.get_or_none(
            id=int(job.payload["message_id"]), location_id=location_id
        )
        if message is None or message.ghl_message_id or message.contact_id is None:
            return  # gone, or mirrored already: a replay posts nothing
        contact = await Contact.get_or_none(id=message.contact_id, location_id=location_id)
        if contact is None:
            raise PermanentError("the workflow message has no contact in its location")
        try:
            conversation_id = await ensure_conversation(self._client, contact)
            assert contact.ghl_contact_id is not None
            payload: dict[str, Any] = {
                "type": "SMS",
                "message": message.body or "",
                "conversationId": conversation_id,
                "contactId": contact.ghl_contact_id,
                "altId": message.wa_message_id,
                "direction": "outbound",
                "date": (message.sent_at or message.created_at or datetime.now(UTC)).isoformat(),
            }
            if self._provider_id:
                payload["conversationProviderId"] = self._provider_id
            attachments = (message.media or {}).get("attachments")
            if attachments:
                payload["attachments"] = list(attachments)
            ghl_id, _ = await post_once(
                self._client,
                location_id,
                conversation_id,
                payload,
                message_id=message.id,
                posted_at=message.ghl_posted_at,
                context={"location_id": location_id, "message_id": message.id},
            )
        except GhlApiError as exc:
            raise job_error(exc) from exc
        try:
            await Message.filter(id=message.id, location_id=location_id).update(
                ghl_message_id=ghl_id
            )
        except IntegrityError:
            # GHL handed this id to our Delivery URL first (its echo of what we posted): that
            # row must never go out; ours keeps the status.
            await Message.filter(ghl_message_id=ghl_id, status=MessageStatus.PENDING).update(
                status=MessageStatus.SENT, error="echo of a workflow message"
            )
            return
        fresh = await Message.get(id=message.id)
        if fresh.status in (MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.FAILED):
            # Acks that came before GHL had the message: told now, in order.
            await report_status(
                self._queue,
                location_id,
                ghl_id,
                fresh.status.value,
                fresh.error if fresh.status == MessageStatus.FAILED else None,
                ordering_key=f"status:{ghl_id}",
            )
        log.info(
            "workflow message mirrored into GHL",
            extra={
                "location_id": location_id,
                "instance_id": str(message.instance_id),
                "message_id": message.id,
            },
        )
