"""A group message carries the group's subject, read from WhatsApp Web's chat model, in real
Chromium against the fake WhatsApp Web; one-to-one chats carry none."""

from __future__ import annotations

import pytest

from connectors import _page_events
from connectors.events import Connected, Message, Qr
from support.wa_fixture import EngineMaker, FakeWhatsApp

pytestmark = pytest.mark.browser

GROUP = "120363000000000009@g.us"
MEMBER = "5511911112222"


async def test_group_messages_carry_the_current_subject_and_person_chats_none(
    make_engine: EngineMaker,
) -> None:
    engine, events = await make_engine()
    await events.wait_for(Qr)
    fake = FakeWhatsApp(engine.page)
    await fake.scan("5511999999999")
    await events.wait_for(Connected)

    unnamed = await fake.deliver(group="120363000000000010@g.us", author=MEMBER, body="a")
    first = await fake.deliver(group=GROUP, author=MEMBER, subject="Família Silva", body="b")
    await fake.rename_group(GROUP, "Família Silva 2025")
    renamed = await fake.deliver(group=GROUP, author=MEMBER, body="c")
    person = await fake.deliver(**{"from": MEMBER, "body": "d", "notifyName": "Carla"})
    await events.wait_for(Message, count=4)

    by_id = {m.id: m for m in events.of(Message)}
    assert by_id[unnamed["id"]].chat_name is None
    assert by_id[first["id"]].chat_name == "Família Silva"
    assert by_id[renamed["id"]].chat_name == "Família Silva 2025"
    assert by_id[person["id"]].chat_name is None


def _page_message(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "ABC",
        "serialized_id": "false_1@g.us_ABC",
        "chat_id": "1@g.us",
        "from_me": False,
        "type": "chat",
        "body": "hi",
        "t": 1_700_000_000,
        "is_group": True,
    }
    return {**base, **fields}


def test_a_subject_is_kept_for_groups_only_and_blank_is_none() -> None:
    assert _page_events.message_event("i", _page_message(chat_name="Team")).chat_name == "Team"
    assert _page_events.message_event("i", _page_message(chat_name="")).chat_name is None
    assert _page_events.message_event("i", _page_message()).chat_name is None
    person = _page_message(chat_id="1@c.us", is_group=False, chat_name="Ana")
    assert _page_events.message_event("i", person).chat_name is None
