"""The bridge end to end: the app over HTTP, the fake WhatsApp Web page in real Chromium, the
fake GHL server, a real SQLite file."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import defaultdict

from bridge.conftest import LOCATION, SIGNING_KEY, Bridged, wait_for

from ghl_app.models import Contact, Message

CHATS = [f"55119{n:08d}" for n in range(1, 6)]


def _by_chat(bridged: Bridged) -> dict[str, list[str]]:
    """Bodies posted into GHL, per GHL contact, in the order GHL received them."""
    posted: dict[str, list[str]] = defaultdict(list)
    for message in bridged.fake.messages.values():
        if message.get("altId"):
            posted[message["contactId"]].append(message["message"])
    return posted


async def _deliver_stream(bridged: Bridged, per_chat: int) -> list[tuple[str, str]]:
    phone = bridged.phone()
    sent = []
    for i in range(per_chat):
        for chat in CHATS:
            body = f"{chat[-2:]}-{i:03d}"
            await phone.deliver(**{"from": chat, "body": body, "notifyName": f"Client {chat[-2:]}"})
            sent.append((chat, body))
    return sent


def _assert_in_order_exactly_once(bridged: Bridged, sent: list[tuple[str, str]]) -> None:
    posted = _by_chat(bridged)
    assert sum(len(bodies) for bodies in posted.values()) == len(sent)
    expected: dict[str, list[str]] = defaultdict(list)
    for chat, body in sent:
        expected[chat[-2:]].append(body)
    got = {bodies[0][:2]: bodies for bodies in posted.values()}
    assert got == dict(expected)
    alt_ids = [m["altId"] for m in bridged.fake.messages.values() if m.get("altId")]
    assert len(alt_ids) == len(set(alt_ids))


async def test_200_inbound_messages_over_5_chats_arrive_in_order_exactly_once(
    bridged: Bridged,
) -> None:
    sent = await _deliver_stream(bridged, per_chat=40)
    await wait_for(lambda: len(bridged.inbound_calls()) >= len(sent), timeout=120)
    await asyncio.sleep(0.5)  # anything extra would show up now
    _assert_in_order_exactly_once(bridged, sent)
    contacts = [c for c in bridged.fake.contacts.values()]
    assert len(contacts) == len(CHATS)
    assert {m["direction"] for m in bridged.inbound_calls()} == {"inbound"}
    assert {m["conversationProviderId"] for m in bridged.inbound_calls()} == {"provider-1"}


async def test_ghl_failing_30_percent_with_429_and_500_still_delivers_in_order_once(
    bridged: Bridged,
) -> None:
    bridged.fake.inject("/conversations/messages/inbound", status=429, rate=0.15)
    bridged.fake.inject("/conversations/messages/inbound", status=500, rate=0.15)
    bridged.fake.inject("/contacts/", status=500, rate=0.3)
    bridged.fake.inject("/conversations/search", status=429, rate=0.3)
    sent = await _deliver_stream(bridged, per_chat=6)
    await wait_for(lambda: len(bridged.inbound_calls()) >= len(sent), timeout=180)
    await asyncio.sleep(0.5)
    _assert_in_order_exactly_once(bridged, sent)
    failed_calls = [c for c in bridged.fake.calls if c.status in (429, 500)]
    assert failed_calls, "the fault injection really failed some calls"


async def test_reply_from_ghl_reaches_whatsapp_then_shows_delivered_then_read(
    bridged: Bridged,
) -> None:
    phone = bridged.phone()
    await phone.deliver(**{"from": "5511912345678", "body": "hello", "notifyName": "Ana"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    ghl_id, status = await bridged.reply_from_ghl(contact_id, "Olá Ana, tudo bem?")
    assert status == 200
    _, repeat = await bridged.reply_from_ghl(contact_id, "x")  # another message id: accepted
    assert repeat == 200

    async def reached() -> bool:
        return any(s["body"] == "Olá Ana, tudo bem?" for s in await phone.sent())

    await wait_for(reached)
    sent = next(s for s in await phone.sent() if s["body"] == "Olá Ana, tudo bem?")
    assert sent["chat_id"] == "5511912345678@c.us"
    row = await Message.get(ghl_message_id=ghl_id)
    assert row.wa_message_id == sent["id"]  # the id we reserved before sending

    await phone.ack([sent["id"]], 2)
    await wait_for(lambda: bridged.fake.messages[ghl_id].get("status") == "delivered")
    await phone.ack([sent["id"]], 3)
    await wait_for(lambda: bridged.fake.messages[ghl_id].get("status") == "read")
    # The send's own echo (chat.new_message fromMe) never went back into GHL.
    await asyncio.sleep(0.5)
    assert all(m.get("altId") != sent["id"] for m in bridged.fake.messages.values())


async def test_a_repeated_delivery_of_the_same_ghl_message_sends_once(bridged: Bridged) -> None:
    phone = bridged.phone()
    await phone.deliver(**{"from": "5511912345678", "body": "oi"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    ghl_id, _ = await bridged.reply_from_ghl(contact_id, "once")
    async with bridged.app.client() as client:
        # Re-post the exact same signed delivery twice more.
        for _ in range(2):
            payload = json.dumps(
                {
                    "contactId": contact_id,
                    "locationId": LOCATION,
                    "messageId": ghl_id,
                    "type": "SMS",
                    "message": "once",
                    "attachments": [],
                }
            ).encode()
            response = await client.post(
                "/webhooks/ghl/outbound",
                content=payload,
                headers={
                    "content-type": "application/json",
                    "x-ghl-signature": base64.b64encode(SIGNING_KEY.sign(payload)).decode(),
                },
            )
            assert response.json() == {"result": "duplicate"}

    async def sent_once() -> bool:
        return [s["body"] for s in await phone.sent()].count("once") == 1

    await wait_for(sent_once)
    await asyncio.sleep(1.0)
    assert [s["body"] for s in await phone.sent()].count("once") == 1


async def test_unsigned_or_forged_outbound_delivery_is_refused_and_stores_nothing(
    bridged: Bridged,
) -> None:
    async with bridged.app.client() as client:
        unsigned = await client.post(
            "/webhooks/ghl/outbound",
            json={"contactId": "c", "locationId": "loc-bridge", "messageId": "m1", "message": "x"},
        )
        forged = await client.post(
            "/webhooks/ghl/outbound",
            content=b'{"messageId":"m2"}',
            headers={"content-type": "application/json", "x-ghl-signature": "AAAA"},
        )
    assert unsigned.status_code == 401 and forged.status_code == 401
    assert not await Message.filter(ghl_message_id__in=["m1", "m2"]).exists()


async def test_brazilian_contact_with_9th_digit_in_ghl_gets_8_digit_messages_without_duplicate(
    bridged: Bridged,
) -> None:
    bridged.fake.contacts["contact-br9"] = {
        "id": "contact-br9",
        "locationId": "loc-bridge",
        "phone": "+5511987654321",
        "name": "Bruno",
    }
    phone = bridged.phone()
    await phone.deliver(**{"from": "551187654321", "body": "sou eu, sem o nove"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    assert bridged.inbound_calls()[0]["contactId"] == "contact-br9"
    assert len(bridged.fake.contacts) == 1
    assert not bridged.fake.calls_to("/contacts/upsert")


async def test_phone_typed_message_appears_as_outbound_and_ghl_sends_never_come_back(
    bridged: Bridged,
) -> None:
    phone = bridged.phone()
    await phone.deliver(**{"from": "5511955554444", "body": "preço?"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    await phone.phone_typed("5511955554444", "R$ 10, typed on the phone")
    await wait_for(lambda: len(bridged.inbound_calls()) == 2)
    typed = bridged.inbound_calls()[1]
    assert typed["direction"] == "outbound" and typed["message"] == "R$ 10, typed on the phone"
    contact_id = typed["contactId"]
    await bridged.reply_from_ghl(contact_id, "sent from GHL")

    async def reached() -> bool:
        return any(s["body"] == "sent from GHL" for s in await phone.sent())

    await wait_for(reached)
    await asyncio.sleep(1.5)
    bodies = [m["message"] for m in bridged.inbound_calls()]
    assert "sent from GHL" not in bodies
    assert not any("\u200b" in body or "\u2063" in body for body in bodies)


async def test_image_in_is_uploaded_to_ghl_and_attached(bridged: Bridged) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    phone = bridged.phone()
    await phone.deliver(
        **{"from": "5511933332222", "media": (png, "image/png", "photo.png"), "caption": "look"}
    )
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    posted = bridged.inbound_calls()[0]
    assert posted["message"] == "look"
    assert len(bridged.fake.uploads) == 1 and bridged.fake.uploads[0]["data"] == png
    assert posted["attachments"] == [bridged.fake.uploads[0]["url"]]


async def test_pdf_out_is_fetched_and_sent_as_a_file(bridged: Bridged) -> None:
    pdf = b"%PDF-1.4\n% test document\n%%EOF\n"
    bridged.fake.files["invoice.pdf"] = (pdf, "application/pdf")
    phone = bridged.phone()
    await phone.deliver(**{"from": "5511933332222", "body": "send the invoice"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    await bridged.reply_from_ghl(
        contact_id, "here it is", attachments=[f"{bridged.fake.url}/files/invoice.pdf"]
    )

    async def sent_pdf() -> bool:
        return any(s["type"] == "document" for s in await phone.sent())

    await wait_for(sent_pdf)
    sent = next(s for s in await phone.sent() if s["type"] == "document")
    assert sent["filename"] == "invoice.pdf" and sent["mimetype"] == "application/pdf"
    assert sent["caption"] == "here it is" and sent["size"] == len(pdf)


async def test_the_contact_remembers_the_instance_that_talked_to_it(bridged: Bridged) -> None:
    await bridged.phone().deliver(**{"from": "5511922221111", "body": "oi"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact = await Contact.get(chat_id="5511922221111@c.us")
    assert str(contact.last_instance_id) == bridged.instance_id
    assert contact.phone_e164 == "+5511922221111"
