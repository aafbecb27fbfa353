"""Every WhatsApp event has its place in GHL (issue 16): reactions, edits, deletes for everyone
and calls become a line a CRM user reads in the thread, in the number's notes language (en or
pt-BR). The app over HTTP, the fixture page in real Chromium firing each event as wa-js 4.6.0
does, the fake GHL, a real SQLite file; each test reads the exact text GHL received."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import pytest
from bridge.conftest import Bridged, wait_for

from connectors.playwright_engine import PlaywrightEngine
from support.wa_event_kinds import PhoneEvents

CUSTOMER = "5511912345678"

TEXTS = {
    "en": {
        "reacted": "👍 reacted to: «Hello, I would like to know the price…»",
        "removed": "reaction removed from: «Hello, I would like to know the price…»",
        "unknown": "❤️ reacted to a message",
        "edited": "edited: «order 43, not 42»",
        "deleted": "message deleted by the sender",
        "voice": "missed voice call",
        "video": "missed video call",
        "declined": "voice call declined (automatic reply sent)",
    },
    "pt-BR": {
        "reacted": "👍 reagiu a: «Hello, I would like to know the price…»",
        "removed": "reação removida de: «Hello, I would like to know the price…»",
        "unknown": "❤️ reagiu a uma mensagem",
        "edited": "editou: «order 43, not 42»",
        "deleted": "mensagem apagada pelo remetente",
        "voice": "chamada de voz perdida",
        "video": "chamada de vídeo perdida",
        "declined": "chamada de voz recusada (resposta automática enviada)",
    },
}
LANGUAGES = pytest.mark.parametrize("language", ["en", "pt-BR"])


def phone_of(bridged: Bridged) -> PhoneEvents:
    engine = bridged.services.sessions.engine_for(uuid.UUID(bridged.instance_id))
    return PhoneEvents(cast(PlaywrightEngine, engine).page)


async def set_settings(bridged: Bridged, **settings: Any) -> dict[str, Any]:
    async with bridged.app.client() as client:
        response = await client.patch(
            f"/api/instances/{bridged.instance_id}/event-settings",
            json=settings,
            headers={"Authorization": f"Bearer {bridged.token}"},
        )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def texts(bridged: Bridged) -> list[str]:
    return [str(m["message"]) for m in bridged.inbound_calls()]


async def posted(bridged: Bridged, count: int) -> list[str]:
    await wait_for(lambda: len(bridged.inbound_calls()) >= count, timeout=60)
    await asyncio.sleep(0.8)  # nothing else follows
    return texts(bridged)


LONG = "Hello, I would like to know the price of the blue shirt in size M, please"


@LANGUAGES
async def test_a_reaction_quotes_the_first_words_and_its_removal_is_noted_once(
    bridged: Bridged, language: str
) -> None:
    await set_settings(bridged, notes_language=language)
    phone = phone_of(bridged)
    sent = await phone.deliver(**{"from": CUSTOMER, "body": LONG})
    await posted(bridged, 1)
    await phone.react(sent["id"], "👍")
    await posted(bridged, 2)
    # wa-js fires the same removal again once it has forgotten it (registerReactionsEvent.ts)
    await phone.react(sent["id"], "", times=2)
    assert await posted(bridged, 3) == [
        LONG,
        TEXTS[language]["reacted"],
        TEXTS[language]["removed"],
    ]
    # The notes land in the customer's own conversation.
    assert len({m["contactId"] for m in bridged.inbound_calls()}) == 1


@LANGUAGES
async def test_a_reaction_to_a_message_ghl_never_had_is_still_readable(
    bridged: Bridged, language: str
) -> None:
    await set_settings(bridged, notes_language=language)
    await phone_of(bridged).react("3EB0AAAABBBBCCCCDDDD", "❤️", chat=CUSTOMER, fromMe=True)
    assert await posted(bridged, 1) == [TEXTS[language]["unknown"]]


@LANGUAGES
async def test_an_edit_is_posted_with_its_new_text_and_linked_to_the_original(
    bridged: Bridged, language: str
) -> None:
    await set_settings(bridged, notes_language=language)
    phone = phone_of(bridged)
    sent = await phone.deliver(**{"from": CUSTOMER, "body": "order 42"})
    await posted(bridged, 1)
    await phone.edit(sent["id"], "order 43, not 42")
    assert await posted(bridged, 2) == ["order 42", TEXTS[language]["edited"]]
    async with bridged.app.client() as client:
        journey = await client.get(
            f"/api/instances/{bridged.instance_id}/messages",
            headers={"Authorization": f"Bearer {bridged.token}"},
        )
    [note] = [m for m in journey.json()["messages"] if m["media_type"] == "edited"]
    assert note["note_of"] == sent["id"] and note["status"] == "synced"


@LANGUAGES
async def test_a_delete_for_everyone_is_noted_and_the_ghl_message_stays(
    bridged: Bridged, language: str
) -> None:
    await set_settings(bridged, notes_language=language)
    phone = phone_of(bridged)
    sent = await phone.deliver(**{"from": CUSTOMER, "body": "wrong chat, sorry"})
    await posted(bridged, 1)
    await phone.revoke(sent["id"])
    assert await posted(bridged, 2) == ["wrong chat, sorry", TEXTS[language]["deleted"]]


@LANGUAGES
async def test_calls_are_noted_as_missed_voice_and_video_calls(
    bridged: Bridged, language: str
) -> None:
    await set_settings(bridged, notes_language=language)
    phone = phone_of(bridged)
    await phone.call(CUSTOMER)
    await posted(bridged, 1)
    await phone.call(CUSTOMER, video=True)
    assert await posted(bridged, 2) == [TEXTS[language]["voice"], TEXTS[language]["video"]]
    assert await phone.rejected_calls() == []  # rejecting is off by default


@LANGUAGES
async def test_a_number_set_to_reject_calls_declines_and_answers_with_its_text(
    bridged: Bridged, language: str
) -> None:
    reply = (
        "Não atendemos ligações aqui, escreva por favor."
        if language == "pt-BR"
        else "We can't take calls here, please write."
    )
    await set_settings(bridged, notes_language=language, reject_calls=True, call_reply=reply)
    phone = phone_of(bridged)
    call_id = await phone.call(CUSTOMER)
    await wait_for(lambda: len(bridged.inbound_calls()) >= 2, timeout=60)
    await asyncio.sleep(0.8)
    assert await phone.rejected_calls() == [call_id]
    assert [s["body"] for s in await phone.sent()] == [reply]
    # GHL shows the call, then what the caller was told (as a message the number sent).
    calls = bridged.inbound_calls()
    assert [(m["message"], m["direction"]) for m in calls] == [
        (TEXTS[language]["declined"], "inbound"),
        (reply, "outbound"),
    ]


async def test_deleting_the_numbers_own_message_on_the_phone_leaves_no_note(
    bridged: Bridged,
) -> None:
    phone = phone_of(bridged)
    own = await phone.phone_typed(f"{CUSTOMER}@c.us", "sent by mistake")
    await posted(bridged, 1)
    await phone.revoke(own["id"])
    await phone.deliver(**{"from": CUSTOMER, "body": "after"})
    assert await posted(bridged, 2) == ["sent by mistake", "after"]
