"""Read state both ways (issue 16): an agent reading the conversation in GHL
(ConversationUnreadUpdate to 0, signed like GHL's webhooks) marks the WhatsApp chat read
(WPP.chat.markIsRead); the phone reading the chat (chat.unread_count_changed to 0) marks the GHL
conversation read (PUT /conversations/{id} unreadCount 0). Per number, on by default. The app,
the fixture page in real Chromium, the fake GHL."""

from __future__ import annotations

import asyncio
from typing import Any

from bridge.conftest import LOCATION, Bridged, wait_for
from bridge.test_event_kinds import CUSTOMER, phone_of, posted, set_settings

CHAT = f"{CUSTOMER}@c.us"


async def unread_webhook(bridged: Bridged, conversation_id: str, unread: int) -> int:
    conversation = bridged.fake.conversations[conversation_id]
    payload: dict[str, Any] = {
        "type": "ConversationUnreadUpdate",
        "locationId": LOCATION,
        "id": conversation_id,
        "contactId": conversation["contactId"],
        "deleted": False,
        "inbox": True,
        "starred": False,
        "unreadCount": unread,
    }
    return await bridged.signed_post("/webhooks/ghl", payload)


async def conversation_of_first_message(bridged: Bridged) -> str:
    await phone_of(bridged).deliver(**{"from": CUSTOMER, "body": "are you open today?"})
    await posted(bridged, 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    [conversation_id] = [
        cid for cid, c in bridged.fake.conversations.items() if c["contactId"] == contact_id
    ]
    return conversation_id


async def test_read_in_ghl_marks_the_whatsapp_chat_read(bridged: Bridged) -> None:
    conversation_id = await conversation_of_first_message(bridged)
    phone = phone_of(bridged)
    assert await unread_webhook(bridged, conversation_id, 1) == 200  # still unread: nothing
    await asyncio.sleep(0.5)
    assert await phone.marked_read() == []
    assert await unread_webhook(bridged, conversation_id, 0) == 200

    async def marked() -> bool:
        return await phone.marked_read() == [CHAT]

    await wait_for(marked, timeout=20)


async def test_read_on_the_phone_marks_the_ghl_conversation_read(bridged: Bridged) -> None:
    conversation_id = await conversation_of_first_message(bridged)
    await phone_of(bridged).phone_reads_chat(CUSTOMER)
    await wait_for(lambda: bridged.fake.conversation_updates != [], timeout=30)
    assert bridged.fake.conversation_updates == [{"id": conversation_id, "unreadCount": 0}]
    [call] = [c for c in bridged.fake.calls if c.path == f"/conversations/{conversation_id}"]
    assert call.method == "PUT" and call.json == {"locationId": LOCATION, "unreadCount": 0}


async def test_a_number_with_read_sync_off_mirrors_no_read_state(bridged: Bridged) -> None:
    assert (await set_settings(bridged, read_sync=False))["read_sync"] is False
    conversation_id = await conversation_of_first_message(bridged)
    phone = phone_of(bridged)
    assert await unread_webhook(bridged, conversation_id, 0) == 200
    await phone.phone_reads_chat(CUSTOMER)
    await asyncio.sleep(1.5)
    assert await phone.marked_read() == []
    assert bridged.fake.conversation_updates == []
