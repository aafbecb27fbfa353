"""Catch-up (issue 12): what reached WhatsApp while we did not listen reaches GHL, once.

wa-js fires chat.new_message only for adds it sees after its hook while the page lives (wa-js
audit finding 2; wppconnect#2346). The fixture can store a message without firing the event
(`offline`), kept across page loads as WhatsApp Web keeps its MsgStore; the app reads the stores
back (WPP.chat.list, WPP.chat.getMessages) when a number connects again and when WhatsApp's
stream comes back, and its store drops what it already had.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.conftest import LOCATION, METRICS_TOKEN, Bridged, wait_for
from tortoise import Tortoise

from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.models import (
    Contact,
    Direction,
    Instance,
    Location,
    Message,
    MessageStatus,
    Origin,
)
from ghl_app.sessions.catch_up import catch_up_since, chat_watermarks

ANA, BIA = "5511977770011", "5511977770012"


def _posted(bridged: Bridged) -> dict[str, list[str]]:
    by_contact: dict[str, list[str]] = defaultdict(list)
    for message in bridged.inbound_calls():
        by_contact[message["contactId"]].append(message["message"])
    return dict(by_contact)


async def _status(bridged: Bridged, wanted: str) -> None:
    async def reached() -> bool:
        async with bridged.app.client(headers={"Authorization": f"Bearer {bridged.token}"}) as c:
            body = (await c.get(f"/api/instances/{bridged.instance_id}")).json()
        return bool(body["status"] == wanted)

    await wait_for(reached, timeout=60)


async def test_messages_stored_while_nobody_listened_reach_ghl_after_a_restart(
    bridged: Bridged,
) -> None:
    phone = bridged.phone()
    await phone.deliver(**{"from": ANA, "body": "seen live"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    # Stored by WhatsApp, never announced to us (we were down, or before the hook).
    for body in ("missed 1", "missed 2"):
        await phone.deliver(**{"from": ANA, "body": body, "offline": True})
    await phone.deliver(**{"from": BIA, "body": "a new chat, missed", "offline": True})
    await asyncio.sleep(1.0)
    assert len(bridged.inbound_calls()) == 1  # nothing fired

    headers = {"Authorization": f"Bearer {bridged.token}"}
    async with bridged.app.client(headers=headers) as client:
        assert (await client.post(f"/api/instances/{bridged.instance_id}/stop")).status_code == 200
        assert (await client.post(f"/api/instances/{bridged.instance_id}/start")).status_code == 200
    await _status(bridged, "connected")  # the profile's login: no QR
    await wait_for(lambda: len(bridged.inbound_calls()) == 4, timeout=60)
    await asyncio.sleep(1.5)  # a second catch-up or a replay would post again now
    posted = sorted(_posted(bridged).values())
    assert posted == sorted([["seen live", "missed 1", "missed 2"], ["a new chat, missed"]])
    async with bridged.app.client() as client:
        metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    read_back = [
        float(line.split()[-1])
        for line in metrics.text.splitlines()
        if line.startswith("ghl_whatsapp_catch_up_messages_total")
    ]
    assert read_back and read_back[0] >= 3  # what catch-up read, for operators


async def test_each_chat_catches_up_from_its_own_last_message(bridged: Bridged) -> None:
    """Per chat (issue 12, item 4): Ana's newest stored message is older than Bia's, and what
    Ana sent after it, though older than Bia's message, still arrives after the restart."""
    phone = bridged.phone()
    now = int(datetime.now(UTC).timestamp())
    await phone.deliver(**{"from": ANA, "body": "ana, long ago", "t": now - 1800})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    # Never announced to us (before the hook, or the page was away), ten minutes ago.
    await phone.deliver(**{"from": ANA, "body": "ana, missed", "offline": True, "t": now - 600})
    await phone.deliver(**{"from": BIA, "body": "bia, just now"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 2)

    headers = {"Authorization": f"Bearer {bridged.token}"}
    async with bridged.app.client(headers=headers) as client:
        assert (await client.post(f"/api/instances/{bridged.instance_id}/stop")).status_code == 200
        assert (await client.post(f"/api/instances/{bridged.instance_id}/start")).status_code == 200
    await _status(bridged, "connected")
    await wait_for(lambda: len(bridged.inbound_calls()) == 3, timeout=60)
    await asyncio.sleep(1.0)
    assert sorted(_posted(bridged).values()) == sorted(
        [["ana, long ago", "ana, missed"], ["bia, just now"]]
    )


async def test_an_outage_of_whatsapps_stream_is_caught_up_when_it_comes_back(
    bridged: Bridged,
) -> None:
    phone = bridged.phone()
    await phone.deliver(**{"from": ANA, "body": "before"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    await phone.stream_mode("OFFLINE")
    await _status(bridged, "disconnected")
    await phone.deliver(**{"from": ANA, "body": "during the outage", "offline": True})
    await phone.stream_mode("MAIN")
    await _status(bridged, "connected")
    await wait_for(lambda: len(bridged.inbound_calls()) == 2, timeout=60)
    await asyncio.sleep(1.0)
    assert [m["message"] for m in bridged.inbound_calls()] == ["before", "during the outage"]


async def test_a_first_link_catches_up_nothing_and_a_relink_starts_from_the_last_message(
    tmp_path: Path,
) -> None:
    url = f"sqlite://{tmp_path / 'c.db'}"
    await apply_migrations(url)
    await Tortoise.init(config=tortoise_config(url))
    try:
        await Location.create(location_id=LOCATION, installed_at=datetime.now(UTC))
        instance = await Instance.create(location_id=LOCATION, name="N", id=uuid.uuid4())
        assert await catch_up_since(instance.id) is None  # never connected: no history import
        linked = datetime.now(UTC) - timedelta(hours=1)
        await Instance.filter(id=instance.id).update(connected_at=linked)
        since = await catch_up_since(instance.id)
        assert since is not None and linked - timedelta(minutes=5) < since < linked
        # A number relinked after weeks does not import weeks of chats.
        await Instance.filter(id=instance.id).update(connected_at=linked - timedelta(days=40))
        since = await catch_up_since(instance.id)
        assert since is not None and since > datetime.now(UTC) - timedelta(days=3, minutes=1)
        # Each chat starts at its own newest message; never more than the days bound back.
        recent, old = datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC) - timedelta(days=9)
        for chat, sent_at in (("1@c.us", recent), ("2@c.us", old)):
            contact = await Contact.create(location_id=LOCATION, chat_id=chat)
            await Message.create(
                instance_id=instance.id,
                location_id=LOCATION,
                contact_id=contact.id,
                direction=Direction.INBOUND,
                origin=Origin.WHATSAPP,
                wa_message_id=chat,
                status=MessageStatus.SYNCED,
                sent_at=sent_at,
            )
        other = await Instance.create(location_id=LOCATION, name="O", id=uuid.uuid4())
        marks = await chat_watermarks(instance.id, LOCATION)
        assert set(marks) == {"1@c.us", "2@c.us"}
        assert marks["1@c.us"] == int((recent - timedelta(minutes=2)).timestamp())
        floor = (datetime.now(UTC) - timedelta(days=3)).timestamp()
        assert floor - 5 < marks["2@c.us"] < floor + 5
        assert await chat_watermarks(other.id, LOCATION) == {}
        assert await chat_watermarks(instance.id, "another-location") == {}
    finally:
        await Tortoise.close_connections()
