"""Sends as wa-js 4.6.0 really does them (issue 12; audit findings 3 and 8): the send options a
CRM needs instead of wa-js's phone defaults, and the send result read, not assumed OK. The app
over HTTP, the fixture page in real Chromium (fake-wpp.js models wa-js's defaults and results),
the fake GHL, a real SQLite file."""

from __future__ import annotations

import pytest
from bridge.conftest import Bridged, wait_for

from ghl_app.bridge import outbound
from ghl_app.models import Job, Message, MessageStatus


async def _contact(bridged: Bridged) -> str:
    await bridged.phone().deliver(**{"from": "5511912345678", "body": "oi", "notifyName": "Ana"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    return str(bridged.inbound_calls()[0]["contactId"])


async def _jobs_of(message_id: int) -> list[Job]:
    jobs = await Job.filter(kind="ghl_to_wa")
    return [job for job in jobs if job.payload.get("message_id") == message_id]


async def _sent_with(bridged: Bridged, text: str) -> dict[str, object]:
    async def reached() -> bool:
        return any(s["body"] == text for s in await bridged.phone().sent())

    await wait_for(reached)
    return next(s for s in await bridged.phone().sent() if s["body"] == text)


async def test_a_url_goes_out_without_link_preview_the_chat_unread_and_no_mentions(
    bridged: Bridged,
) -> None:
    contact_id = await _contact(bridged)
    text = "@all see https://example.com/pricing?ref=crm"
    _ghl_id, status = await bridged.reply_from_ghl(contact_id, text)
    assert status == 200
    sent = await _sent_with(bridged, text)
    assert sent["options"] == {"linkPreview": False, "markIsRead": False, "detectMentioned": False}
    assert sent["previewed_via"] == []  # no third-party preview server saw the URL
    assert await bridged.phone().read_chats() == []  # the phone's chat was not marked read


async def test_a_send_wa_js_reports_as_error_network_is_retried_and_arrives_once(
    bridged: Bridged,
) -> None:
    contact_id = await _contact(bridged)
    await bridged.phone().fail_sends("ERROR_NETWORK", "ERROR_NETWORK")
    ghl_id, _ = await bridged.reply_from_ghl(contact_id, "chegou?")
    sent = await _sent_with(bridged, "chegou?")
    assert [s["body"] for s in await bridged.phone().sent()].count("chegou?") == 1
    row = await Message.get(ghl_message_id=ghl_id)
    assert row.status is MessageStatus.SENT and row.wa_message_id == sent["id"]
    [job] = await _jobs_of(row.id)
    assert job.attempts == 3  # two ERROR_NETWORK, then sent


async def test_a_send_that_keeps_failing_ends_as_failed_in_ghl_with_the_reason(
    bridged: Bridged,
) -> None:
    contact_id = await _contact(bridged)
    await bridged.phone().fail_sends(*["ERROR_EXPIRED"] * 20)
    ghl_id, _ = await bridged.reply_from_ghl(contact_id, "vai falhar")

    async def first_attempt_failed() -> bool:
        row = await Message.get(ghl_message_id=ghl_id)
        return bool(row.error)

    await wait_for(first_attempt_failed)
    # Two attempts in all, so the test need not wait out eight backoffs.
    row = await Message.get(ghl_message_id=ghl_id)
    [job] = await _jobs_of(row.id)
    await Job.filter(id=job.id).update(max_attempts=2)
    await wait_for(lambda: bridged.fake.messages[ghl_id].get("status") == "failed")
    assert "ERROR_EXPIRED" in str(bridged.fake.messages[ghl_id].get("error"))
    assert (await Message.get(ghl_message_id=ghl_id)).status is MessageStatus.FAILED
    assert not [s for s in await bridged.phone().sent() if s["body"] == "vai falhar"]


async def test_a_failed_number_lookup_is_asked_again_not_taken_for_no_whatsapp(
    bridged: Bridged, monkeypatch: pytest.MonkeyPatch
) -> None:
    """wa-js answers a failed lookup as it answers a number with no account (null,
    contact/functions/queryWidExists.ts): the send asks again and goes out."""
    monkeypatch.setattr(outbound, "LOOKUP_RETRY_S", 0.2)  # wa-js caches a miss 15 s; ours 0.2
    phone = bridged.phone()
    await phone.lookup_errors(1)
    ghl_id, _ = await bridged.reply_from_ghl("ghl-new-1", "olá", phone="+5511955550001")

    async def reached() -> bool:
        return any(s["body"] == "olá" for s in await phone.sent())

    await wait_for(reached, timeout=60)
    assert (await Message.get(ghl_message_id=ghl_id)).status == MessageStatus.SENT


async def test_a_number_with_no_whatsapp_fails_after_the_last_lookup_with_the_reason(
    bridged: Bridged, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbound, "LOOKUP_RETRY_S", 0.2)
    phone = bridged.phone()
    await phone.known_numbers({})  # no number has an account
    ghl_id, _ = await bridged.reply_from_ghl("ghl-new-2", "olá", phone="+5511955550002")
    await wait_for(lambda: bridged.fake.messages[ghl_id].get("status") == "failed", timeout=60)
    assert "not on WhatsApp" in bridged.fake.messages[ghl_id]["error"]["message"]
    job = await Job.filter(kind="ghl_to_wa").order_by("-id").first()
    assert job is not None and job.attempts == outbound.LOOKUP_ATTEMPTS
    assert await phone.sent() == []


async def test_a_reply_to_a_contact_migrated_to_a_lid_goes_to_its_lid_chat(
    bridged: Bridged,
) -> None:
    """WPP.chat.find of the contact's phone leads to its LID chat (chat/functions/find.ts), so
    the reserved MsgKey must name that chat (prepareRawMessage.ts): the send goes there."""
    phone = bridged.phone()
    lid = "2769541341200@lid"
    await phone.deliver(**{"lid": lid, "sender_phone": "5521977770099", "body": "oi"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    assert bridged.fake.contacts[contact_id]["phone"] == "+5521977770099"
    ghl_id, _ = await bridged.reply_from_ghl(contact_id, "resposta")

    async def reached() -> bool:
        return any(s["body"] == "resposta" for s in await phone.sent())

    await wait_for(reached, timeout=30)
    sent = next(s for s in await phone.sent() if s["body"] == "resposta")
    assert sent["chat_id"] == lid and sent["serialized_id"].startswith(f"true_{lid}_")
    row = await Message.get(ghl_message_id=ghl_id)
    assert row.status == MessageStatus.SENT and row.wa_message_id == sent["id"]
