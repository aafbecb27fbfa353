"""WhatsApp's own connection drives the number's state (issue 12, audit finding 4): OFFLINE,
CONFLICT, TOS_BLOCK and the like make it `disconnected` with a reason while the browser lives,
MAIN makes it `connected` again, and a CONFLICT is taken over. The app over HTTP, the fixture
page in real Chromium, a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from bridge.conftest import (
    COMPANY,
    LOCATION,
    Bridged,
    connect_instance,
    seed_location,
    wait_for,
)

from ghl_app.demo.fake_ghl import run_fake_ghl
from ghl_app.models import Job, Message, MessageStatus
from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from support.app_server import run_app
from web.app import create_app


async def _instance(bridged: Bridged) -> dict[str, Any]:
    async with bridged.app.client() as client:
        answer = await client.get(
            f"/api/instances/{bridged.instance_id}",
            headers={"Authorization": f"Bearer {bridged.token}"},
        )
    result: dict[str, Any] = answer.json()
    return result


async def _status_is(bridged: Bridged, status: str) -> bool:
    return (await _instance(bridged))["status"] == status


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("OFFLINE", "offline"), ("TOS_BLOCK", "banned"), ("DEPRECATED_VERSION", "outdated")],
)
async def test_whatsapp_going_down_shows_disconnected_with_its_reason_and_main_brings_it_back(
    bridged: Bridged, mode: str, reason: str
) -> None:
    phone = bridged.phone()
    await phone.stream_mode(mode)
    await wait_for(lambda: _status_is(bridged, "disconnected"), timeout=20)
    assert str((await _instance(bridged))["error"]).startswith(f"{reason}:")
    await phone.stream_mode("MAIN")
    await wait_for(lambda: _status_is(bridged, "connected"), timeout=20)
    assert (await _instance(bridged))["error"] is None


async def test_a_conflict_is_taken_over_and_the_number_stays_ours(bridged: Bridged) -> None:
    phone = bridged.phone()
    await phone.stream_mode("CONFLICT")

    async def taken_over() -> bool:
        return await phone.takeover_calls() == 1

    await wait_for(taken_over, timeout=20)
    await wait_for(lambda: _status_is(bridged, "connected"), timeout=20)


async def test_the_page_is_kept_alive(bridged: Bridged) -> None:
    """WPP.conn.setKeepAlive(true) (conn/functions/setKeepAlive.ts), as WPPConnect does."""
    assert (await bridged.phone().state())["keepAlive"] is True


async def test_with_takeover_off_a_conflict_leaves_the_number_disconnected_with_the_reason(
    bridge_env: Callable[..., Settings],
) -> None:
    async with run_fake_ghl(rate_limit=(1000, 10.0)) as fake:
        settings = bridge_env(fake, WA_TAKEOVER_ON_CONFLICT="false")
        await seed_location(settings, fake)
        token, _ = issue_token(
            settings.app_secret, location_id=LOCATION, user_id="u", company_id=COMPANY, role="admin"
        )
        async with run_app(create_app(settings)) as app:
            bridged = Bridged(app, fake, settings, await connect_instance(app, token), token)
            phone = bridged.phone()
            await phone.stream_mode("CONFLICT")
            await wait_for(lambda: _status_is(bridged, "disconnected"), timeout=20)
            assert str((await _instance(bridged))["error"]).startswith("conflict:")
            await asyncio.sleep(0.5)
            assert await phone.takeover_calls() == 0


async def test_a_reply_while_the_number_is_down_waits_for_it_and_goes_out(
    bridged: Bridged,
) -> None:
    """A reply typed in GHL while WhatsApp's stream is down is neither failed nor sent from
    another number: it waits (uncounted) and goes out when the number is back."""
    phone = bridged.phone()
    await phone.deliver(**{"from": "5511912345678", "body": "oi"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    await phone.stream_mode("OFFLINE")
    await wait_for(lambda: _status_is(bridged, "disconnected"), timeout=20)
    ghl_id, _ = await bridged.reply_from_ghl(contact_id, "enquanto caído")
    await asyncio.sleep(4.0)
    assert bridged.fake.messages[ghl_id].get("status") != "failed"
    assert not any(s["body"] == "enquanto caído" for s in await phone.sent())
    row = await Message.get(ghl_message_id=ghl_id)
    assert row.status == MessageStatus.PENDING and "reconnecting" in (row.error or "")
    await phone.stream_mode("MAIN")

    async def reached() -> bool:
        return any(s["body"] == "enquanto caído" for s in await phone.sent())

    await wait_for(reached, timeout=30)
    job = await Job.filter(kind="ghl_to_wa").order_by("-id").first()
    assert job is not None and job.attempts <= 1  # waiting cost no attempt


async def test_what_wa_js_misses_in_whatsapp_web_shows_in_healthz(bridged: Bridged) -> None:
    """conn.needs_update, and wa-js's console errors for modules it cannot find after a
    WhatsApp Web update (whatsapp/exportModule.ts), reach the operator."""
    phone = bridged.phone()
    await phone.needs_update()
    await phone.module_missing("MsgStore")

    async def reported() -> bool:
        async with bridged.app.client() as client:
            problems = (await client.get("/healthz")).json()["whatsapp_web_problems"]
        found = problems.get(bridged.instance_id, [])
        return len(found) == 2

    await wait_for(reported, timeout=20)
    async with bridged.app.client() as client:
        found = (await client.get("/healthz")).json()["whatsapp_web_problems"][bridged.instance_id]
    assert found[0].startswith("needs_update:")
    assert found[1].startswith("wa_js_module: Module MsgStore was not found")
    assert await _status_is(bridged, "connected")  # a warning, not a disconnect


async def test_no_network_shows_offline_and_the_network_back_brings_it_back(
    bridged: Bridged,
) -> None:
    """conn.online (conn/events/registerOnlineEvent.ts): false is offline even while the stream
    mode stays MAIN; true again, with nothing else down, is connected."""
    phone = bridged.phone()
    await phone.online(False)
    await wait_for(lambda: _status_is(bridged, "disconnected"), timeout=20)
    assert str((await _instance(bridged))["error"]).startswith("offline:")
    await phone.online(True)
    await wait_for(lambda: _status_is(bridged, "connected"), timeout=20)
    assert (await _instance(bridged))["error"] is None


async def test_the_stream_info_offline_is_down_until_it_is_normal_again(bridged: Bridged) -> None:
    """conn.stream_info_changed (registerStreamEvent.ts, StreamInfo.ts): OFFLINE is down; the
    reconnect's transient CONNECTING changes nothing; NORMAL is up."""
    phone = bridged.phone()
    await phone.stream_info("OFFLINE")
    await wait_for(lambda: _status_is(bridged, "disconnected"), timeout=20)
    assert str((await _instance(bridged))["error"]).startswith("offline:")
    await phone.stream_info("CONNECTING")
    await asyncio.sleep(0.5)
    assert await _status_is(bridged, "disconnected")
    await phone.stream_info("NORMAL")
    await wait_for(lambda: _status_is(bridged, "connected"), timeout=20)


async def test_a_temporary_ban_is_shown_until_the_stream_is_back(bridged: Bridged) -> None:
    """conn.backend_event 'account_temporarily_banned' (whatsapp/misc/BackendEventBus.ts)."""
    phone = bridged.phone()
    await phone.backend_event("ab_props_loaded")  # one of the many that say nothing of health
    await phone.backend_event("account_temporarily_banned")
    await wait_for(lambda: _status_is(bridged, "disconnected"), timeout=20)
    assert str((await _instance(bridged))["error"]).startswith("banned:")
    await phone.stream_mode("MAIN")
    await wait_for(lambda: _status_is(bridged, "connected"), timeout=20)


async def test_a_storage_error_reaches_healthz_without_a_disconnect(bridged: Bridged) -> None:
    """conn.backend_event 'storage_initialization_error': its doc in conn/events/eventTypes.ts
    says the profile needs a restart; the operator sees it, the number is not called down."""
    await bridged.phone().backend_event("storage_initialization_error")

    async def reported() -> bool:
        async with bridged.app.client() as client:
            problems = (await client.get("/healthz")).json()["whatsapp_web_problems"]
        return any(
            p.startswith("storage_initialization_error:")
            for p in problems.get(bridged.instance_id, [])
        )

    await wait_for(reported, timeout=20)
    assert await _status_is(bridged, "connected")
