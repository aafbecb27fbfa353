"""Integrators' message events: `message.received` (a contact's message, once it is stored
in GHL) and `message.status` (sent, delivered, read, failed) for messages that go out."""

from __future__ import annotations

from typing import Any

from ghl_app.integrations.events import EventHub
from ghl_app.models import Contact, Message, MessageStatus, Origin


def message_view(message: Any) -> dict[str, Any]:
    media = message.media or {}
    return {
        "message_id": message.id,
        "number_id": str(message.instance_id) if message.instance_id else None,
        "direction": "inbound" if message.origin == Origin.WHATSAPP else "outbound",
        "origin": message.origin.value,
        "body": message.body or "",
        "type": media.get("type") or "text",
        "wa_message_id": message.wa_message_id,
    }


class MessageEvents:
    def __init__(self, hub: EventHub) -> None:
        self._hub = hub

    async def on_synced(self, message: Any, ghl_contact_id: str) -> None:
        if message.origin != Origin.WHATSAPP:
            return
        contact = await Contact.get_or_none(id=message.contact_id, location_id=message.location_id)
        data = {
            **message_view(message),
            "ghl_contact_id": ghl_contact_id,
            "from": (contact.phone_e164 if contact else None),
            "from_name": (contact.name if contact else None),
            "is_group": bool(contact.is_group) if contact else False,
            "sent_at": message.sent_at.isoformat() if message.sent_at else None,
        }
        await self._hub.publish(
            message.location_id, "message.received", data, dedupe_key=f"received:{message.id}"
        )

    async def on_status(self, message: Message, status: MessageStatus, error: str | None) -> None:
        data = {**message_view(message), "status": status.value, "error": error}
        await self._hub.publish(
            message.location_id,
            "message.status",
            data,
            dedupe_key=f"status:{message.id}:{status.value}",
        )
