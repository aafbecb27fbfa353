"""Contacts as GHL really keeps them (issue 13, item 5): tags are added, never overwritten; a
contact deleted in GHL does not make a chat's later messages fail; ContactDelete and
ContactDndUpdate webhooks are honoured. The app over HTTP, the fixture page in Chromium, the fake
GHL (which deletes contacts, answers deleted ids as GHL may, and keeps upsert's tag overwrite).
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from bridge.conftest import LOCATION, SIGNING_KEY, Bridged, wait_for

from ghl_app.models import Contact, Message, MessageStatus
from ghl_app.phones import lookup_variants

CHAT = "5511977770002"


async def _app_webhook(bridged: Bridged, payload: dict[str, Any]) -> int:
    """A GHL app webhook (Default Webhook URL), signed as GHL signs it."""
    return await bridged.signed_post("/webhooks/ghl", payload)


async def _first_message(bridged: Bridged, body: str = "one") -> str:
    await bridged.phone().deliver(**{"from": CHAT, "body": body})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    return str(bridged.inbound_calls()[0]["contactId"])


def _failed_jobs(bridged: Bridged) -> list[Any]:
    return [c for c in bridged.fake.calls_to("/conversations/messages/inbound") if c.status != 200]


async def test_an_existing_contact_keeps_its_tags_and_gains_whatsapp(bridged: Bridged) -> None:
    fake = bridged.fake
    fake.contacts["contact-vip"] = {
        "id": "contact-vip",
        "locationId": LOCATION,
        "phone": f"+{CHAT}",
        "tags": ["vip", "lead-2024"],
    }
    assert await _first_message(bridged) == "contact-vip"
    assert fake.contacts["contact-vip"]["tags"] == ["vip", "lead-2024", "whatsapp"]
    assert all("tags" not in (c.json or {}) for c in fake.calls_to("/contacts/upsert"))


@pytest.mark.parametrize("contact_only", ["accepts", "refuses"])
async def test_a_new_contact_costs_three_calls_and_a_known_one_one(
    bridged: Bridged, contact_only: str
) -> None:
    """No spelling of the phone in GHL: the contact is created with its tag (never an upsert
    with tags) and the message posted naming the contact alone, GHL answering its
    conversation: 3 calls, plus one search per other spelling of a Brazilian mobile (the 9th
    digit). If GHL refuses a post without conversationId (the spec requires it), the
    conversation is created and the post made again, and later new contacts get their
    conversation first. A known chat's next message is one call."""
    fake = bridged.fake
    fake.inbound_contact_only = contact_only
    contact_id = await _first_message(bridged)
    assert fake.contacts[contact_id]["tags"] == ["whatsapp"]
    assert not fake.calls_to("/contacts/upsert")
    paths = [(c.method, c.path) for c in fake.calls if not c.path.startswith("/oauth")]
    spellings = len(lookup_variants(f"+{CHAT}"))  # Brazil: with and without the 9th digit
    searches = [("GET", "/contacts/search/duplicate")] * spellings
    post = ("POST", "/conversations/messages/inbound")
    if contact_only == "accepts":
        assert paths == [*searches, ("POST", "/contacts/"), post]
    else:
        conversation = [("GET", "/conversations/search"), ("POST", "/conversations/")]
        assert paths == [*searches, ("POST", "/contacts/"), post, *conversation, post]
        # From then on a new contact's conversation comes first: no refused post.
        before = len(fake.calls)
        await bridged.phone().deliver(**{"from": "5511977770003", "body": "another"})
        await wait_for(lambda: len(bridged.inbound_calls()) == 2)
        statuses = [c.status for c in fake.calls[before:] if c.path == post[1]]
        assert statuses == [200]
        contact_id = bridged.inbound_calls()[1]["contactId"]
    conversation = await Contact.get(location_id=LOCATION, ghl_contact_id=contact_id)
    assert conversation.ghl_conversation_id in fake.conversations
    before = len(fake.calls)
    await bridged.phone().deliver(**{"from": CHAT, "body": "two"})
    await wait_for(
        lambda: (
            len(bridged.inbound_calls()) >= 2
            and any(m["message"] == "two" for m in bridged.inbound_calls())
        )
    )
    assert [c.path for c in fake.calls[before:]] == ["/conversations/messages/inbound"]


@pytest.mark.parametrize("gone_answer", ["not_found", "500"])
async def test_a_contact_deleted_in_ghl_gets_the_next_message_in_a_new_contact(
    bridged: Bridged, gone_answer: str
) -> None:
    fake = bridged.fake
    fake.gone_answer = gone_answer
    first = await _first_message(bridged)
    fake.delete_contact(first)  # no ContactDelete webhook reached us
    await bridged.phone().deliver(**{"from": CHAT, "body": "two"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 2)
    second = bridged.inbound_calls()[1]
    assert second["message"] == "two" and second["contactId"] != first
    assert second["contactId"] in fake.contacts
    assert len(_failed_jobs(bridged)) == 1  # the post to the deleted ids, then found again
    row = await Contact.get(location_id=LOCATION, chat_id=f"{CHAT}@c.us")
    assert row.ghl_contact_id == second["contactId"]
    assert await Message.filter(status=MessageStatus.SYNCED).count() == 2


async def test_contact_delete_webhook_drops_the_mapping_so_nothing_fails(bridged: Bridged) -> None:
    fake = bridged.fake
    first = await _first_message(bridged)
    fake.delete_contact(first)
    payload = {"type": "ContactDelete", "locationId": LOCATION, "id": first}
    assert await _app_webhook(bridged, payload) == 200
    row = await Contact.get(location_id=LOCATION, chat_id=f"{CHAT}@c.us")
    assert row.ghl_contact_id is None and row.ghl_conversation_id is None
    await bridged.phone().deliver(**{"from": CHAT, "body": "two"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 2)
    assert bridged.inbound_calls()[1]["contactId"] != first
    assert _failed_jobs(bridged) == []
    # Another location's ids are not touched by this location's webhook.
    other = {"type": "ContactDelete", "locationId": "loc-other", "id": first}
    assert await _app_webhook(bridged, other) == 200


async def test_a_contact_with_whatsapp_dnd_gets_no_send_and_ghl_hears_why(
    bridged: Bridged,
) -> None:
    phone = bridged.phone()
    contact_id = await _first_message(bridged)

    def dnd(status: str) -> dict[str, Any]:
        return {
            "type": "ContactDndUpdate",
            "locationId": LOCATION,
            "id": contact_id,
            "dnd": False,
            "dndSettings": {"WhatsApp": {"status": status, "message": "", "code": ""}},
            "timestamp": datetime.now(UTC).isoformat(),
        }

    assert await _app_webhook(bridged, dnd("active")) == 200
    blocked, _ = await bridged.reply_from_ghl(contact_id, "promo")
    await wait_for(lambda: bridged.fake.messages[blocked].get("status") == "failed")
    assert "Do Not Disturb" in bridged.fake.messages[blocked]["error"]["message"]
    assert (await Message.get(ghl_message_id=blocked)).status == MessageStatus.FAILED
    assert await _app_webhook(bridged, dnd("inactive")) == 200
    allowed, _ = await bridged.reply_from_ghl(contact_id, "hello again")

    async def reached() -> bool:
        return any(s["body"] == "hello again" for s in await phone.sent())

    await wait_for(reached)
    await asyncio.sleep(0.3)
    assert not any(s["body"] == "promo" for s in await phone.sent())
    assert (await Message.get(ghl_message_id=allowed)).status != MessageStatus.FAILED


async def test_a_phone_typed_message_ghl_echoes_to_the_delivery_url_is_not_sent_again(
    bridged: Bridged,
) -> None:
    """If GHL calls the Delivery URL for the phone-typed message we mirror (UNCONFIRMED, audit
    finding 15), the fake does it before answering our post: the customer must not get it twice."""
    fake = bridged.fake

    def sign(body: bytes) -> dict[str, str]:
        return {"x-ghl-signature": base64.b64encode(SIGNING_KEY.sign(body)).decode()}

    fake.delivery_echo = (f"{bridged.app.url}/webhooks/ghl/outbound", sign)
    phone = bridged.phone()
    await _first_message(bridged)
    await phone.phone_typed(CHAT, "typed on the phone")
    await wait_for(lambda: len(bridged.inbound_calls()) == 2)
    await wait_for(lambda: len(fake.echoes) == 1)
    assert fake.echoes[0][1] == 200  # accepted (verified, stored), then recognised
    echo_id = fake.echoes[0][0]

    async def settled() -> bool:
        row = await Message.get_or_none(ghl_message_id=echo_id)
        return row is not None and row.status == MessageStatus.SENT

    await wait_for(settled)
    await asyncio.sleep(2.0)  # a resend would reach the phone now
    sent = [s["body"] for s in await phone.sent()]
    assert "typed on the phone" not in sent
    assert len(bridged.inbound_calls()) == 2
