"""An integrator's send (API key) -> WhatsApp, through the number they named.

Stored with its send job in one transaction and answered at once, like a reply typed in GHL;
sent by the same job (outbound.py); once WhatsApp took it, posted into the contact's GHL
conversation like a workflow's message (workflow_sends.py), so the CRM shows everything the
number said. An `Idempotency-Key` makes a retried request send once.
"""

from __future__ import annotations

import logging
import uuid

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from connectors.base import new_message_id
from ghl_app import phones
from ghl_app.bridge.outbound import API_MARK, SEND_TO_WHATSAPP
from ghl_app.errors import AppError
from ghl_app.jobs import JobQueue
from ghl_app.models import ApiSendRequest, Direction, Instance, Message, MessageStatus, Origin

log = logging.getLogger(__name__)

MAX_TEXT = 4096


class ApiSends:
    def __init__(self, *, queue: JobQueue) -> None:
        self._queue = queue

    async def accept(
        self,
        *,
        location_id: str,
        key_id: str,
        instance_id: uuid.UUID,
        to: str,
        text: str,
        file_url: str | None,
        idempotency_key: str | None,
    ) -> tuple[Message, bool]:
        instance = await Instance.get_or_none(id=instance_id, location_id=location_id)
        if instance is None:
            raise AppError("not_found", "No such number.", 404)
        e164 = phones.to_e164(to) if to else None
        if e164 is None:
            raise AppError("invalid_phone", "to must be a phone number with its country code.", 400)
        if len(text) > MAX_TEXT:
            raise AppError("message_too_long", f"text is longer than {MAX_TEXT}.", 400)
        if not text and not file_url:
            raise AppError("empty_message", "Send a text, a file, or both.", 400)
        if file_url is not None and not file_url.lower().startswith(("https://", "http://")):
            raise AppError("bad_file_url", "file.url must be an http(s) URL.", 400)
        key = f"{key_id}:{idempotency_key}"[:128] if idempotency_key else None
        if key is not None:
            earlier = await self._earlier(location_id, key)
            if earlier is not None:
                return earlier, False
        media: dict[str, object] = {API_MARK: key_id}
        if file_url:
            media["attachments"] = [file_url]
        try:
            async with in_transaction() as conn:
                message = await Message.create(
                    location_id=location_id,
                    instance_id=instance.id,
                    direction=Direction.OUTBOUND,
                    origin=Origin.API,
                    wa_message_id=new_message_id(),
                    body=text,
                    media=media,
                    status=MessageStatus.PENDING,
                    using_db=conn,
                )
                if key is not None:
                    await ApiSendRequest.create(
                        location_id=location_id,
                        idempotency_key=key,
                        message_id=message.id,
                        using_db=conn,
                    )
                await self._queue.enqueue(
                    SEND_TO_WHATSAPP,
                    {
                        "message_id": message.id,
                        "contact_id": "",
                        "phone": e164,
                        "instance_id": str(instance.id),
                        "chosen_by": "api",
                        "only_chosen": True,
                    },
                    ordering_key=f"{location_id}:api:{e164}",
                    location_id=location_id,
                    using_db=conn,
                )
        except IntegrityError:
            earlier = await self._earlier(location_id, key) if key else None
            if earlier is None:
                raise
            return earlier, False
        self._queue.wake()
        log.info(
            "API send stored",
            extra={
                "location_id": location_id,
                "instance_id": str(instance.id),
                "message_id": message.id,
            },
        )
        return message, True

    async def _earlier(self, location_id: str, key: str) -> Message | None:
        request = await ApiSendRequest.get_or_none(location_id=location_id, idempotency_key=key)
        if request is None:
            return None
        return await Message.get_or_none(id=request.message_id, location_id=location_id)
