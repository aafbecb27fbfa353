"""What a WhatsApp message carries beyond its text reaches GHL as text a CRM user reads (issue
16): a location as the place and a map link, contact cards as names and phones, a poll as its
question and options, view-once as a note, a quote as a short prefix, forwarded marked; status
updates and the chats a number ignores never reach GHL. Real Chromium on the fixture page
(fields named as whatsapp/models/MsgModel.ts names them), the app, the fake GHL; en and pt-BR."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bridge.conftest import Bridged, wait_for
from bridge.test_event_kinds import CUSTOMER, phone_of, posted, set_settings, texts

from support.media_samples import ogg_opus_voice_note

LANGUAGES = pytest.mark.parametrize("language", ["en", "pt-BR"])

ANA = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Souza;Ana;;;\r\nFN:Ana Souza\r\n"
    "item1.TEL;waid=5511987654321:+55 11 98765-4321\r\nitem1.X-ABLabel:Celular\r\nEND:VCARD"
)
BRUNO = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bruno Lima\r\n"
    "TEL;type=CELL;waid=5521912340000:+55 21 91234-0000\r\n"
    "TEL;type=WORK:+55 21 3333-0000\r\nEND:VCARD"
)
WORDS = {
    "en": {
        "location": "📍 Location",
        "contact": "👤 Contact",
        "poll": "📊 Poll",
        "view_once": "[View-once message: it can only be opened on the phone]",
        "forwarded": "[Forwarded]",
    },
    "pt-BR": {
        "location": "📍 Localização",
        "contact": "👤 Contato",
        "poll": "📊 Enquete",
        "view_once": "[Mensagem de visualização única: só pode ser aberta no celular]",
        "forwarded": "[Encaminhada]",
    },
}


async def deliver(bridged: Bridged, **opts: Any) -> dict[str, str]:
    return await phone_of(bridged).deliver(**{"from": CUSTOMER, **opts})


@LANGUAGES
async def test_a_location_is_its_place_and_a_map_link(bridged: Bridged, language: str) -> None:
    await set_settings(bridged, notes_language=language)
    # chat/functions/sendLocationMessage.ts: loc = "name\naddress"; the body is a thumbnail.
    fields = {
        "lat": -22.95201,
        "lng": -43.2102601,
        "loc": "Cristo Redentor\nParque Nacional da Tijuca - Rio de Janeiro",
        "isLive": False,
    }
    await deliver(bridged, type="location", body="/9j/4AAQSkZJRgABAQ", fields=fields)
    await deliver(bridged, type="location", body="/9j/4AAQ", fields={"lat": 1.5, "lng": 2.25})
    assert await posted(bridged, 2) == [
        f"{WORDS[language]['location']}: Cristo Redentor — Parque Nacional da Tijuca - Rio de"
        " Janeiro\nhttps://www.google.com/maps/search/?api=1&query=-22.95201,-43.2102601",
        f"{WORDS[language]['location']}\nhttps://www.google.com/maps/search/?api=1&query=1.5,2.25",
    ]


@LANGUAGES
async def test_contact_cards_are_names_and_phones(bridged: Bridged, language: str) -> None:
    await set_settings(bridged, notes_language=language)
    # chat/functions/sendVCardContactMessage.ts: one card is a `vcard` whose body is the card;
    # several are a `multi_vcard` with vcardList [{displayName, vcard}].
    await deliver(bridged, type="vcard", body=ANA, fields={"vcardFormattedName": "Ana Souza"})
    await deliver(
        bridged,
        type="multi_vcard",
        fields={
            "vcardList": [
                {"displayName": "Ana Souza", "vcard": ANA},
                {"displayName": "Bruno Lima", "vcard": BRUNO},
            ]
        },
    )
    contact = WORDS[language]["contact"]
    assert await posted(bridged, 2) == [
        f"{contact}: Ana Souza +55 11 98765-4321",
        f"{contact}: Ana Souza +55 11 98765-4321\n"
        f"{contact}: Bruno Lima +55 21 91234-0000, +55 21 3333-0000",
    ]


@LANGUAGES
async def test_a_poll_is_its_question_and_options(bridged: Bridged, language: str) -> None:
    await set_settings(bridged, notes_language=language)
    # chat/functions/sendCreatePollMessage.ts: type poll_creation, pollName, pollOptions.
    options = [{"name": "Monday", "localId": 0}, {"name": "Friday", "localId": 1}]
    fields = {"pollName": "Best day?", "pollOptions": options, "pollSelectableOptionsCount": 1}
    await deliver(bridged, type="poll_creation", fields=fields)
    assert await posted(bridged, 1) == [
        f"{WORDS[language]['poll']}: Best day?\n1. Monday\n2. Friday"
    ]


@LANGUAGES
async def test_a_view_once_message_is_a_note_to_open_it_on_the_phone(
    bridged: Bridged, language: str
) -> None:
    await set_settings(bridged, notes_language=language)
    png = b"\x89PNG\r\n\x1a\n" + bytes(32)
    await deliver(bridged, media=(png, "image/png", "x.png"), fields={"isViewOnce": True})
    assert await posted(bridged, 1) == [WORDS[language]["view_once"]]
    assert bridged.fake.uploads == []  # nothing is downloaded or attached


@LANGUAGES
async def test_a_quoted_reply_has_the_quote_as_a_short_prefix_and_forwarded_is_marked(
    bridged: Bridged, language: str
) -> None:
    await set_settings(bridged, notes_language=language)
    first = await deliver(bridged, body="Do you deliver to Campinas on Saturdays as well?")
    await deliver(bridged, body="and Sundays?", quotedMsgId=first["id"])
    await deliver(bridged, body="look at this", fields={"isForwarded": True, "forwardingScore": 1})
    assert await posted(bridged, 3) == [
        "Do you deliver to Campinas on Saturdays as well?",
        "↩ «Do you deliver to Campinas on Saturdays…»\nand Sundays?",
        f"{WORDS[language]['forwarded']}\nlook at this",
    ]


async def test_status_updates_never_reach_ghl(bridged: Bridged) -> None:
    phone = phone_of(bridged)
    status = await phone.deliver(**{"from": "status@broadcast", "body": "my status"})
    await phone.react(status["id"], "😂")
    await phone.deliver(**{"from": CUSTOMER, "body": "after"})
    assert await posted(bridged, 1) == ["after"]


async def test_the_chats_a_number_ignores_never_reach_ghl(bridged: Bridged) -> None:
    group = "120363000000000001@g.us"
    async with bridged.app.client() as client:
        groups_on = await client.patch(
            f"/api/instances/{bridged.instance_id}/settings",
            json={"groups_enabled": True},
            headers={"Authorization": f"Bearer {bridged.token}"},
        )
    assert groups_on.status_code == 200
    saved = await set_settings(bridged, ignored_chats=[group, "+55 11 95555-4444"])
    assert saved["ignored_chats"] == [group, "+5511955554444"]
    phone = phone_of(bridged)
    await phone.deliver(**{"group": group, "from": CUSTOMER, "body": "in the group"})
    await phone.deliver(**{"from": "5511955554444", "body": "from the ignored one"})
    await phone.call("5511955554444")
    await phone.deliver(**{"from": CUSTOMER, "body": "kept"})
    await wait_for(lambda: len(bridged.inbound_calls()) >= 1, timeout=60)
    await asyncio.sleep(1.0)
    assert texts(bridged) == ["kept"]


async def test_bad_event_settings_are_a_clear_400(bridged: Bridged) -> None:
    headers = {"Authorization": f"Bearer {bridged.token}"}
    url = f"/api/instances/{bridged.instance_id}/event-settings"
    async with bridged.app.client() as client:
        for body in (
            {"notes_language": "fr"},
            {"ignored_chats": ["not a phone"]},
            {"reject_calls": "yes"},
            {"colour": "blue"},
        ):
            response = await client.patch(url, json=body, headers=headers)
            assert response.status_code == 400, body
            assert response.json()["error"]["code"] == "bad_setting"
        current = await client.get(url, headers=headers)
    assert current.json() == {
        "notes_language": "en",
        "reject_calls": False,
        "call_reply": "",
        "ignored_chats": [],
        "read_sync": True,
        "pacing_min_gap_s": None,
        "pacing_jitter_s": None,
        "pacing_per_minute": None,
        "typing": False,
        "typing_max_s": 3.0,
        "groups_enabled": False,
    }


@pytest.mark.parametrize(
    ("language", "heading"), [("en", "Voice note (0:02)"), ("pt-BR", "Mensagem de voz (0:02)")]
)
async def test_a_voice_note_plays_in_ghl_with_its_duration_in_the_numbers_language(
    bridged: Bridged, language: str, heading: str
) -> None:
    await set_settings(bridged, notes_language=language)
    voice = ogg_opus_voice_note(2.0)
    await deliver(bridged, type="ptt", media=(voice, "audio/ogg; codecs=opus", None))
    assert await posted(bridged, 1) == [heading]
    [upload] = bridged.fake.uploads
    assert upload["data"][:3] == b"ID3" or upload["data"][:2] == b"\xff\xfb"  # an MP3
