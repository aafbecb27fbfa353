"""Contract tests of the Playwright engine in real Chromium against the fake WhatsApp Web."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors import _processes
from connectors.base import EngineError, new_message_id
from connectors.events import (
    Ack,
    Connected,
    Disconnected,
    LoggedOut,
    Message,
    PairingCode,
    Qr,
    Revoked,
)
from support.wa_fixture import EngineMaker, FakeWhatsApp

pytestmark = pytest.mark.browser

PHONE = "5511999999999"
CONTACT = "5511988887777"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PDF = b"%PDF-1.4\n" + b"x" * 300


async def _connect(make_engine: EngineMaker, **kwargs: object) -> tuple:  # type: ignore[type-arg]
    engine, events = await make_engine(**kwargs)
    await events.wait_for(Qr)
    fake = FakeWhatsApp(engine.page)
    await fake.scan(PHONE)
    await events.wait_for(Connected)
    return engine, events, fake


def _all_dead(pids: list[int]) -> bool:
    return not any(_processes.is_alive(pid) for pid in pids)


async def test_start_emits_a_qr_within_two_seconds(make_engine: EngineMaker) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    engine, events = await make_engine()
    qr = await events.wait_for(Qr, timeout=2.0)
    assert loop.time() - began < 2.0 + 1.0  # start itself + the first code
    assert engine.running
    assert qr.instance_id == "inst-1"
    assert qr.code.startswith("2@") and qr.code.count(",") == 3
    assert qr.expires_at.tzinfo is UTC
    assert timedelta(seconds=50) < qr.expires_at - datetime.now(UTC) <= timedelta(seconds=60)


async def test_qr_codes_rotate_with_shorter_later_lifetimes(make_engine: EngineMaker) -> None:
    _engine, events = await make_engine()
    third = await events.wait_for(Qr, count=3, timeout=5.0)
    codes = [qr.code for qr in events.of(Qr)]
    assert len(set(codes)) == len(codes) >= 3
    assert third.expires_at - datetime.now(UTC) <= timedelta(seconds=20)
    assert not events.of(Connected)


async def test_scan_emits_connected_with_wid_and_e164_phone(make_engine: EngineMaker) -> None:
    engine, events = await make_engine()
    await events.wait_for(Qr)
    await FakeWhatsApp(engine.page).scan(PHONE, device=12)
    connected = await events.wait_for(Connected)
    assert connected.wid == f"{PHONE}@c.us"
    assert connected.phone == f"+{PHONE}"
    qr_after = [e for e in events.events[events.events.index(connected) :] if isinstance(e, Qr)]
    assert qr_after == []


async def test_restart_with_same_profile_connects_without_qr(
    make_engine: EngineMaker, tmp_path: Path
) -> None:
    engine, _events, _fake = await _connect(make_engine, profile=tmp_path / "p")
    await engine.stop()
    again, events = await make_engine(profile=tmp_path / "p")
    connected = await events.wait_for(Connected, timeout=5.0)
    assert connected.phone == f"+{PHONE}"
    await asyncio.sleep(0.8)  # longer than the fixture's first QR lifetime
    assert events.of(Qr) == []
    assert again.running


async def test_inbound_text_is_one_message_event_even_when_fired_twice(
    make_engine: EngineMaker,
) -> None:
    _engine, events, fake = await _connect(make_engine)
    ids = await fake.deliver(**{"from": CONTACT, "body": "olá", "notifyName": "Ana", "times": 2})
    message = await events.wait_for(Message)
    await asyncio.sleep(0.3)
    assert len(events.of(Message)) == 1
    assert message.id == ids["id"] and message.serialized_id == ids["serialized_id"]
    assert message.chat_id == f"{CONTACT}@c.us"
    assert not message.from_me and not message.is_group
    assert (message.type, message.body, message.notify_name) == ("chat", "olá", "Ana")
    assert message.sender_phone == f"+{CONTACT}"
    assert message.timestamp.tzinfo is UTC


async def test_inbound_image_and_document_can_be_downloaded(make_engine: EngineMaker) -> None:
    engine, events, fake = await _connect(make_engine)
    image = await fake.deliver(
        **{"from": CONTACT, "media": (PNG, "image/png", None), "caption": "look"}
    )
    doc = await fake.deliver(**{"from": CONTACT, "media": (PDF, "application/pdf", "a.pdf")})
    await events.wait_for(Message, count=2)
    by_id = {m.id: m for m in events.of(Message)}
    img_msg, doc_msg = by_id[image["id"]], by_id[doc["id"]]
    assert (img_msg.type, img_msg.caption, img_msg.body) == ("image", "look", None)
    assert (img_msg.mimetype, img_msg.size) == ("image/png", len(PNG))
    assert (doc_msg.type, doc_msg.filename) == ("document", "a.pdf")

    media = await engine.download_media(img_msg.id)
    assert (media.data, media.mimetype) == (PNG, "image/png")
    media = await engine.download_media(doc_msg.serialized_id)
    assert (media.data, media.mimetype, media.filename) == (PDF, "application/pdf", "a.pdf")


async def test_group_and_lid_messages_carry_author_and_whatsapp_given_phone(
    make_engine: EngineMaker,
) -> None:
    _engine, events, fake = await _connect(make_engine)
    await fake.deliver(**{"from": CONTACT, "group": "120363000000000001@g.us", "body": "hi"})
    await fake.deliver(**{"lid": "2769541341223@lid", "sender_phone": "5521977776666", "body": "x"})
    await fake.deliver(**{"lid": "3000000000001@lid", "body": "no phone known"})
    await events.wait_for(Message, count=3)
    group, lid, unknown = events.of(Message)
    assert group.is_group and group.chat_id == "120363000000000001@g.us"
    assert group.author == f"{CONTACT}@c.us" and group.sender_phone == f"+{CONTACT}"
    assert lid.chat_id == "2769541341223@lid" and lid.sender_phone == "+5521977776666"
    assert unknown.sender_phone is None  # never digits parsed from the LID


async def test_a_lid_message_without_a_phone_gets_it_from_whatsapps_lid_cache_in_order(
    make_engine: EngineMaker,
) -> None:
    """The message and its contact carry no phoneNumber, WhatsApp Web's LID <-> phone cache
    knows it (WPP.contact.getPnLidEntry): the message gets it, and keeps its place."""
    _engine, events, fake = await _connect(make_engine)
    lid = "2769541341299@lid"
    await fake.deliver(**{"lid": lid, "sender_phone": "5521977775555", "body": "first"})
    await fake.deliver(
        **{"lid": lid, "sender_phone": "5521977775555", "phone_hidden": True, "body": "second"}
    )
    await fake.deliver(**{"from": CONTACT, "body": "third"})
    await events.wait_for(Message, count=3)
    first, second, third = events.of(Message)
    assert [m.body for m in (first, second, third)] == ["first", "second", "third"]
    assert second.chat_id == lid and second.sender_phone == "+5521977775555"


async def test_send_text_uses_reserved_id_and_echo_carries_it(make_engine: EngineMaker) -> None:
    engine, events, fake = await _connect(make_engine)
    reserved = new_message_id()
    sent = await engine.send_text(f"{CONTACT}@c.us", "hello", message_id=reserved)
    assert sent.id == reserved
    assert sent.serialized_id == f"true_{CONTACT}@c.us_{reserved}"
    received = await fake.sent()
    assert [(s["id"], s["chat_id"], s["body"]) for s in received] == [
        (reserved, f"{CONTACT}@c.us", "hello")
    ]
    echo = await events.wait_for(Message)
    assert (echo.id, echo.from_me, echo.body) == (reserved, True, "hello")


async def test_send_file_delivers_bytes_with_caption_and_reserved_id(
    make_engine: EngineMaker,
) -> None:
    engine, events, fake = await _connect(make_engine)
    reserved = new_message_id()
    sent = await engine.send_file(
        f"{CONTACT}@c.us",
        PDF,
        mimetype="application/pdf",
        filename="invoice.pdf",
        caption="your invoice",
        message_id=reserved,
    )
    assert sent.id == reserved
    [record] = await fake.sent()
    assert (record["type"], record["filename"], record["caption"], record["size"]) == (
        "document",
        "invoice.pdf",
        "your invoice",
        len(PDF),
    )
    echo = await events.wait_for(Message)
    assert echo.id == reserved and echo.from_me
    assert (await engine.download_media(reserved)).data == PDF


async def test_message_typed_on_the_phone_arrives_as_from_me(make_engine: EngineMaker) -> None:
    _engine, events, fake = await _connect(make_engine)
    ids = await fake.phone_typed(CONTACT, "sent from my phone")
    message = await events.wait_for(Message)
    assert (message.id, message.from_me, message.chat_id) == (ids["id"], True, f"{CONTACT}@c.us")


async def test_acks_and_revokes_become_events(make_engine: EngineMaker) -> None:
    engine, events, fake = await _connect(make_engine)
    first, second = new_message_id(), new_message_id()
    await engine.send_text(f"{CONTACT}@c.us", "a", message_id=first)
    await engine.send_text(f"{CONTACT}@c.us", "b", message_id=second)
    await fake.ack([first, second], 2)
    await fake.ack([first], 3)
    delivered = await events.wait_for(Ack, lambda a: a.ack == 2)
    read = await events.wait_for(Ack, lambda a: a.ack == 3)
    assert delivered.message_ids == (first, second) and delivered.chat_id == f"{CONTACT}@c.us"
    assert read.message_ids == (first,)
    await fake.revoke(second)
    revoked = await events.wait_for(Revoked)
    assert (revoked.message_id, revoked.chat_id) == (second, f"{CONTACT}@c.us")


async def test_logout_from_phone_emits_one_logged_out(make_engine: EngineMaker) -> None:
    _engine, events, fake = await _connect(make_engine)
    await fake.logout_from_phone()
    logged_out = await events.wait_for(LoggedOut)
    assert logged_out.reason == "logout"
    await events.wait_for(Qr, count=2)  # back on the QR screen
    assert len(events.of(LoggedOut)) == 1
    assert not events.of(Disconnected)


async def test_logout_unlinks_stops_and_wipes_the_profile(
    make_engine: EngineMaker, tmp_path: Path
) -> None:
    engine, events, _fake = await _connect(make_engine, profile=tmp_path / "p")
    pids = engine.pids()
    await engine.logout()
    assert not engine.running
    assert not (tmp_path / "p").exists()
    assert _all_dead(pids)
    assert not events.of(Disconnected) and not events.of(LoggedOut)
    _again, events = await make_engine(profile=tmp_path / "p")
    await events.wait_for(Qr)  # a fresh login is needed


async def test_page_crash_emits_disconnected_and_frees_the_browser(
    make_engine: EngineMaker,
) -> None:
    engine, events, fake = await _connect(make_engine)
    pids = engine.pids()
    await fake.crash()
    disconnected = await events.wait_for(Disconnected)
    assert disconnected.reason in {"page_crashed", "page_closed", "browser_closed"}
    for _ in range(60):
        if not engine.running and _all_dead(pids):
            break
        await asyncio.sleep(0.05)
    assert not engine.running and _all_dead(pids)
    assert len(events.of(Disconnected)) == 1
    assert not events.of(LoggedOut)


async def test_killed_browser_emits_disconnected(make_engine: EngineMaker) -> None:
    engine, events, _fake = await _connect(make_engine)
    browser = min(_processes.pids_using_profile(engine.profile_dir))
    _processes.kill([browser])
    await events.wait_for(Disconnected)
    await engine.stop()
    assert engine.pids() == []


async def test_stop_leaves_no_chromium_process_and_is_idempotent(
    make_engine: EngineMaker,
) -> None:
    engine, events = await make_engine()
    await events.wait_for(Qr)
    pids = engine.pids()
    assert len(pids) >= 2  # the browser and the engine's own Playwright driver
    assert any("chromium" in " ".join(_processes.cmdline(pid)) for pid in pids)
    await engine.stop()
    await engine.stop()
    assert _all_dead(pids)
    assert engine.pids() == []
    assert not engine.running
    assert not events.of(Disconnected)


async def test_stale_singleton_lock_from_a_dead_pid_is_cleared(
    make_engine: EngineMaker, tmp_path: Path
) -> None:
    profile = tmp_path / "p"
    profile.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (profile / "SingletonLock").symlink_to(f"{socket.gethostname()}-{dead.pid}")
    (profile / "SingletonCookie").symlink_to("1234567890")
    (profile / "SingletonSocket").symlink_to("/tmp/nonexistent-chromium-socket")
    _engine, events = await make_engine(profile=profile)
    await events.wait_for(Qr)


async def test_two_engines_on_one_profile_are_refused(
    make_engine: EngineMaker, tmp_path: Path
) -> None:
    await make_engine(profile=tmp_path / "p")
    second, _events = await make_engine(profile=tmp_path / "p", start=False)
    with pytest.raises(EngineError) as info:
        await second.start()
    assert info.value.code == "profile_in_use"


async def test_request_pairing_code_returns_and_emits_eight_chars(
    make_engine: EngineMaker,
) -> None:
    engine, events = await make_engine()
    await events.wait_for(Qr)
    code = await engine.request_pairing_code("+55 11 99999-9999")
    assert len(code) == 8 and code.isalnum()
    assert (await events.wait_for(PairingCode)).code == code
    await FakeWhatsApp(engine.page).confirm_pairing()
    assert (await events.wait_for(Connected)).phone == f"+{PHONE}"
    with pytest.raises(EngineError):
        await engine.request_pairing_code(PHONE)  # already linked


async def test_resolve_phone_returns_whatsapps_canonical_id(make_engine: EngineMaker) -> None:
    engine, _events, fake = await _connect(make_engine)
    await fake.known_numbers(
        {
            "5511987654321": {"wid": "551187654321@c.us"},
            "5521977776666": {"wid": "5521977776666@c.us", "lid": "2769541341223@lid"},
        }
    )
    old_form = await engine.resolve_phone("+55 11 98765-4321")
    assert old_form is not None and (old_form.wid, old_form.lid) == ("551187654321@c.us", None)
    with_lid = await engine.resolve_phone("5521977776666")
    assert with_lid is not None and with_lid.lid == "2769541341223@lid"
    assert await engine.resolve_phone("+1 555 000 0000") is None


async def test_commands_on_a_stopped_engine_raise_not_running(make_engine: EngineMaker) -> None:
    engine, _events = await make_engine(start=False)
    with pytest.raises(EngineError) as info:
        await engine.send_text(f"{CONTACT}@c.us", "x", message_id=new_message_id())
    assert info.value.code == "not_running"
