"""GHL workflows end to end: our "Send WhatsApp message" action, our triggers, and the provider
modes, against the fake GHL over HTTP and the fixture WhatsApp Web in real Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from bridge.conftest import (
    COMPANY,
    LOCATION,
    WORKFLOW_TOKEN,
    Bridged,
    connect_instance,
    seed_location,
    wait_for,
)

from ghl_app.demo.fake_ghl import run_fake_ghl
from ghl_app.demo.fake_ghl_workflows import subscription, workflow_call
from ghl_app.ghl.workflow_triggers import MESSAGE_RECEIVED, NUMBER_CONNECTED, NUMBER_DISCONNECTED
from ghl_app.models import Message, Origin, WorkflowAction
from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from support.app_server import run_app
from web.app import create_app

CUSTOMER = "+5511912345678"
CUSTOMER_CHAT = "5511912345678@c.us"


def _ghl_contact(bridged: Bridged, contact_id: str, phone: str, tags: list[str]) -> None:
    """A contact GHL holds (one a workflow runs for), not yet known to the app."""
    bridged.fake.contacts[contact_id] = {
        "id": contact_id,
        "locationId": LOCATION,
        "phone": phone,
        "tags": tags,
    }


async def _post(
    bridged: Bridged, path: str, body: Any, token: str | None = WORKFLOW_TOKEN
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with bridged.app.client() as client:
        return await client.post(path, json=body, headers=headers)


async def _sent_bodies(bridged: Bridged, instance_id: str) -> list[str]:
    return [s["body"] for s in await bridged.phone(instance_id).sent()]


def _mirrored(bridged: Bridged, wa_id: str) -> dict[str, Any] | None:
    return next((m for m in bridged.fake.messages.values() if m.get("altId") == wa_id), None)


@pytest.fixture
async def two_numbers(bridged: Bridged) -> AsyncIterator[tuple[Bridged, str, str]]:
    second = await connect_instance(bridged.app, bridged.token, "Second")
    yield bridged, bridged.instance_id, second


async def test_action_sends_once_through_the_chosen_number_then_delivered_and_read(
    two_numbers: tuple[Bridged, str, str],
) -> None:
    bridged, first, second = two_numbers
    _ghl_contact(bridged, "contact-wf-1", CUSTOMER, [])
    body = workflow_call(LOCATION, "contact-wf-1", message="Your order shipped", from_number=second)
    answer = await _post(bridged, "/workflows/actions/send-message", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "queued"

    async def sent_by_second() -> bool:
        return "Your order shipped" in await _sent_bodies(bridged, second)

    await wait_for(sent_by_second)
    assert "Your order shipped" not in await _sent_bodies(bridged, first)
    sent = next(s for s in await bridged.phone(second).sent() if s["body"] == "Your order shipped")
    assert sent["chat_id"] == CUSTOMER_CHAT

    # The message appears in the contact's GHL conversation as an outbound message of ours.
    await wait_for(lambda: _mirrored(bridged, sent["id"]) is not None)
    mirrored = _mirrored(bridged, sent["id"])
    assert mirrored is not None
    assert mirrored["direction"] == "outbound"
    assert mirrored["contactId"] == "contact-wf-1"
    assert mirrored["message"] == "Your order shipped"
    ghl_id = mirrored["id"]
    row = await Message.get(wa_message_id=sent["id"])
    assert row.origin == Origin.GHL and row.ghl_message_id == ghl_id
    assert (row.media or {})["workflow"] == "wf-1"
    assert (row.media or {})["route"]["rule"] == "action"

    await bridged.phone(second).ack([sent["id"]], 2)
    await wait_for(lambda: bridged.fake.messages[ghl_id].get("status") == "delivered")
    await bridged.phone(second).ack([sent["id"]], 3)
    await wait_for(lambda: bridged.fake.messages[ghl_id].get("status") == "read")
    # The send's own echo never came back into GHL as a second message.
    await asyncio.sleep(0.5)
    assert [m["message"] for m in bridged.fake.messages.values()].count("Your order shipped") == 1


@pytest.mark.parametrize("extras", [{"executionId": "exec-77"}, {}])
async def test_the_same_execution_delivered_twice_sends_once(
    bridged: Bridged, extras: dict[str, str]
) -> None:
    _ghl_contact(bridged, "contact-wf-2", CUSTOMER, [])
    body = workflow_call(LOCATION, "contact-wf-2", message="Only once", extras=extras)
    answers = await asyncio.gather(
        *(_post(bridged, "/workflows/actions/send-message", body) for _ in range(3))
    )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sorted(a.json()["status"] for a in answers) == ["duplicate", "duplicate", "queued"]
    assert len({a.json()["messageId"] for a in answers}) == 1

    async def sent_once() -> bool:
        return (await _sent_bodies(bridged, bridged.instance_id)).count("Only once") == 1

    await wait_for(sent_once)
    await asyncio.sleep(1.0)
    assert (await _sent_bodies(bridged, bridged.instance_id)).count("Only once") == 1
    assert await WorkflowAction.filter(location_id=LOCATION).count() == 1


async def test_a_forged_or_malformed_action_call_is_refused_and_sends_nothing(
    bridged: Bridged,
) -> None:
    _ghl_contact(bridged, "contact-wf-3", CUSTOMER, [])
    body = workflow_call(LOCATION, "contact-wf-3", message="forged")
    for token in (None, "wrong-token", "Bearer " + WORKFLOW_TOKEN + "x"):
        refused = await _post(bridged, "/workflows/actions/send-message", body, token=token)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
    bad = [
        {"data": "x", "extras": {}},
        workflow_call(LOCATION, "", message="no contact"),
        workflow_call(LOCATION, "contact-wf-3", message=""),
        workflow_call(LOCATION, "contact-wf-3", message="x", attachment="file:///etc/passwd"),
        workflow_call(LOCATION, "contact-wf-3", message="x", from_number="not-a-uuid"),
        workflow_call("loc-not-installed", "contact-wf-3", message="x"),
    ]
    for payload in bad:
        answer = await _post(bridged, "/workflows/actions/send-message", payload)
        assert 400 <= answer.status_code < 500, answer.text
        assert set(answer.json()["error"]) == {"code", "message"}
    await asyncio.sleep(1.0)
    assert await Message.filter(origin=Origin.GHL).count() == 0
    assert await _sent_bodies(bridged, bridged.instance_id) == []


async def test_number_options_list_the_location_numbers_after_auto(
    two_numbers: tuple[Bridged, str, str],
) -> None:
    bridged, first, second = two_numbers
    async with bridged.app.client() as client:
        answer = await client.get(
            "/workflows/options/numbers",
            params={"locationId": LOCATION},
            headers={"Authorization": f"Bearer {WORKFLOW_TOKEN}"},
        )
        refused = await client.get("/workflows/options/numbers", params={"locationId": LOCATION})
    assert refused.status_code == 401
    values = [o["value"] for o in answer.json()["options"]]
    assert values == ["auto", first, second]


async def test_message_received_fires_the_subscribed_trigger_once(bridged: Bridged) -> None:
    target = bridged.fake.target_url(LOCATION, "trig-1")
    answer = await _post(
        bridged,
        "/workflows/triggers/subscription",
        subscription(LOCATION, "trig-1", MESSAGE_RECEIVED, target),
    )
    assert answer.json() == {"status": "subscribed"}
    # A subscription whose filter excludes this number's messages is not fired.
    other = bridged.fake.target_url(LOCATION, "trig-2")
    filtered = [{"field": "numberName", "operator": "==", "value": "Support"}]
    await _post(
        bridged,
        "/workflows/triggers/subscription",
        subscription(LOCATION, "trig-2", MESSAGE_RECEIVED, other, filters=filtered),
    )
    await bridged.phone().deliver(**{"from": "5511912345678", "body": "I want a quote"})
    await wait_for(lambda: len(bridged.fake.fires_for("trig-1")) == 1)
    await asyncio.sleep(1.0)
    fires = bridged.fake.fires_for("trig-1")
    assert len(fires) == 1 and bridged.fake.fires_for("trig-2") == []
    event = fires[0]
    contact_id = bridged.inbound_calls()[0]["contactId"]
    assert event["contactId"] == contact_id
    assert event["message"] == "I want a quote"
    assert event["numberName"] == "Main"
    assert event["numberPhone"].endswith("5511900000001")
    assert event["contactPhone"] == CUSTOMER
    # The fire carried the location's token (GHL answers 401 to an unauthenticated fire).
    fire_calls = [
        c for c in bridged.fake.calls if c.path.startswith("/workflows-marketplace/triggers/")
    ]
    assert fire_calls and all(c.status == 200 for c in fire_calls)


async def test_a_deleted_workflow_gets_no_more_fires_and_a_foreign_target_is_refused(
    bridged: Bridged,
) -> None:
    target = bridged.fake.target_url(LOCATION, "trig-3")
    await _post(
        bridged,
        "/workflows/triggers/subscription",
        subscription(LOCATION, "trig-3", MESSAGE_RECEIVED, target),
    )
    deleted = await _post(
        bridged,
        "/workflows/triggers/subscription",
        subscription(LOCATION, "trig-3", MESSAGE_RECEIVED, target, event_type="DELETED"),
    )
    assert deleted.json() == {"status": "unsubscribed"}
    foreign = await _post(
        bridged,
        "/workflows/triggers/subscription",
        subscription(LOCATION, "trig-4", MESSAGE_RECEIVED, "http://127.0.0.2:9/steal"),
    )
    assert foreign.status_code == 400
    assert foreign.json()["error"]["code"] == "bad_target_url"
    forged = await _post(
        bridged,
        "/workflows/triggers/subscription",
        subscription(LOCATION, "trig-5", MESSAGE_RECEIVED, target),
        token="nope",
    )
    assert forged.status_code == 401
    await bridged.phone().deliver(**{"from": "5511912345678", "body": "hello"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    await asyncio.sleep(1.0)
    assert bridged.fake.trigger_fires == []


async def test_disconnect_then_reconnect_fire_their_triggers(bridged: Bridged) -> None:
    for trigger_id, key in (("trig-down", NUMBER_DISCONNECTED), ("trig-up", NUMBER_CONNECTED)):
        await _post(
            bridged,
            "/workflows/triggers/subscription",
            subscription(LOCATION, trigger_id, key, bridged.fake.target_url(LOCATION, trigger_id)),
        )
    await bridged.phone().crash()
    await wait_for(lambda: len(bridged.fake.fires_for("trig-down")) == 1)
    down = bridged.fake.fires_for("trig-down")[0]
    assert down["numberId"] == bridged.instance_id
    assert down["status"] == "disconnected" and down["reason"]

    # The restarted page shows a QR when the crash came before Chromium wrote the login to
    # disk (it writes Local Storage lazily); either way, back to connected fires "up".
    async def restored_or_scanned() -> bool:
        async with bridged.app.client(headers={"Authorization": f"Bearer {bridged.token}"}) as c:
            status = (await c.get(f"/api/instances/{bridged.instance_id}")).json()["status"]
        if status == "qr":
            await bridged.phone().scan("+5511900000001")
        return status in ("qr", "connected")

    await wait_for(restored_or_scanned)
    await wait_for(lambda: len(bridged.fake.fires_for("trig-up")) == 1)
    assert bridged.fake.fires_for("trig-up")[0]["numberName"] == "Main"
    await asyncio.sleep(0.5)
    assert len(bridged.fake.fires_for("trig-down")) == 1


async def test_routing_rules_pick_tag_then_last_talked_then_default(
    two_numbers: tuple[Bridged, str, str],
) -> None:
    bridged, first, second = two_numbers

    async def reply_and_sender(contact_id: str, text: str) -> str:
        ghl_id, status = await bridged.reply_from_ghl(contact_id, text, phone=CUSTOMER)
        assert status == 200

        async def sent() -> bool:
            row = await Message.get(ghl_message_id=ghl_id)
            return row.status.value in ("sent", "delivered", "read")

        await wait_for(sent)
        row = await Message.get(ghl_message_id=ghl_id)
        assert text in await _sent_bodies(bridged, str(row.instance_id))
        return f"{row.instance_id}:{(row.media or {})['route']['rule']}"

    # 1. A contact tag naming the number (by its name, any case).
    _ghl_contact(bridged, "contact-tag", "+5511911110001", ["vip", "WhatsApp:second"])
    assert await reply_and_sender("contact-tag", "by tag") == f"{second}:contact_tag"
    # The tag can name the number's phone too, formatted as people write it.
    _ghl_contact(bridged, "contact-tag-phone", "+5511911110002", ["whatsapp:+55 11 90000-0001"])
    # Both numbers share the fixture's phone, so the tag matches the first one connected.
    assert (await reply_and_sender("contact-tag-phone", "by phone tag")).endswith(":contact_tag")

    # 2. Without a tag: the number that last talked to the contact.
    await bridged.phone(second).deliver(**{"from": "5511911110003", "body": "hi from 3"})
    await wait_for(lambda: any(m.get("message") == "hi from 3" for m in bridged.inbound_calls()))
    contact_3 = next(m for m in bridged.inbound_calls() if m["message"] == "hi from 3")["contactId"]
    assert await reply_and_sender(contact_3, "to 3") == f"{second}:last_talked"

    # 3. A contact new to both numbers: the location's default (set in the page's API).
    async with bridged.app.client(headers={"Authorization": f"Bearer {bridged.token}"}) as c:
        made = await c.patch(f"/api/instances/{second}/settings", json={"is_default": True})
        assert made.json()["is_default"] is True
        listed = (await c.get("/api/instances")).json()["instances"]
    assert {i["id"]: i["is_default"] for i in listed} == {first: False, second: True}
    _ghl_contact(bridged, "contact-new", "+5511911110004", [])
    assert await reply_and_sender("contact-new", "to new") == f"{second}:default"

    # 4. The tagged number is stopped: skipped for the next rule, not failed.
    async with bridged.app.client(headers={"Authorization": f"Bearer {bridged.token}"}) as c:
        stopped = await c.post(f"/api/instances/{second}/stop")
        assert stopped.status_code == 200
    _ghl_contact(bridged, "contact-tag-2", "+5511911110005", ["whatsapp:second"])
    assert await reply_and_sender("contact-tag-2", "tag but stopped") == f"{first}:oldest"


async def test_default_provider_mode_sends_a_sms_module_delivery_through_whatsapp(
    bridge_env: Callable[..., Settings],
) -> None:
    """GHL_PROVIDER_MODE=default: no conversationProviderId is configured or sent, and the
    Delivery payload of GHL's SMS workflow module (ProviderOutboundMessage.md SMS example: no
    conversationProviderId, no userId for a workflow) goes out through WhatsApp."""
    from bridge.conftest import Bridged as Harness

    async with run_fake_ghl(rate_limit=(1000, 10.0)) as fake:
        settings = bridge_env(fake, GHL_PROVIDER_MODE="default", GHL_CONVERSATION_PROVIDER_ID="")
        assert settings.missing_ghl == ()
        await seed_location(settings, fake)
        token, _ = issue_token(
            settings.app_secret,
            location_id=LOCATION,
            user_id="u1",
            company_id=COMPANY,
            role="admin",
        )
        async with run_app(create_app(settings)) as app:
            instance_id = await connect_instance(app, token)
            harness = Harness(
                app=app, fake=fake, settings=settings, instance_id=instance_id, token=token
            )
            await harness.phone().deliver(**{"from": "5511912345678", "body": "oi"})
            await wait_for(lambda: len(harness.inbound_calls()) == 1)
            inbound = harness.inbound_calls()[0]
            assert "conversationProviderId" not in inbound
            ghl_id, status = await harness.reply_from_ghl(
                inbound["contactId"], "Lembrete: consulta amanhã", phone=CUSTOMER
            )
            assert status == 200

            async def arrived() -> bool:
                return "Lembrete: consulta amanhã" in await _sent_bodies(harness, instance_id)

            await wait_for(arrived)
            row = await Message.get(ghl_message_id=ghl_id)
            assert row.instance_id is not None and str(row.instance_id) == instance_id
