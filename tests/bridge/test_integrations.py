"""Integrators and agencies end to end: API keys from the page, a send through a number with a
key, signed event webhooks (retried after a 500), the live event socket, and agencies'
disconnect alerts (once per incident, after the grace, then "recovered")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import websockets
from bridge.conftest import COMPANY, LOCATION, OWN_PHONE, Bridged, wait_for

from ghl_app.integrations import signing
from ghl_app.models import AgencyAlerts, EventDelivery, Message
from support.receiver import Receiver

CUSTOMER = "+5511912345678"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


async def _new_key(bridged: Bridged, name: str = "CRM sync") -> str:
    async with bridged.app.client(headers={"Authorization": f"Bearer {bridged.token}"}) as c:
        created = await c.post("/api/keys", json={"name": name})
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    assert secret.startswith("gwa_")
    return secret


def _api(bridged: Bridged, key: str) -> httpx.AsyncClient:
    return bridged.app.client(headers={"Authorization": f"Bearer {key}"})


async def test_a_key_from_the_page_sends_once_and_is_refused_once_revoked(
    bridged: Bridged,
) -> None:
    key = await _new_key(bridged)
    async with bridged.app.client(headers={"Authorization": f"Bearer {bridged.token}"}) as c:
        listed = (await c.get("/api/keys")).json()["keys"]
    assert len(listed) == 1 and key not in json.dumps(listed)  # the secret is shown once only
    async with _api(bridged, key) as api:
        numbers = (await api.get("/api/v1/numbers")).json()["numbers"]
        assert [n["id"] for n in numbers] == [bridged.instance_id]
        body = {"to": CUSTOMER, "text": "Pedido #123 enviado"}
        first = await api.post(
            f"/api/v1/numbers/{bridged.instance_id}/messages",
            json=body,
            headers={"Idempotency-Key": "order-123"},
        )
        again = await api.post(
            f"/api/v1/numbers/{bridged.instance_id}/messages",
            json=body,
            headers={"Idempotency-Key": "order-123"},
        )
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["duplicate"] is True
    message_id = first.json()["message"]["id"]
    assert again.json()["message"]["id"] == message_id

    phone = bridged.phone()

    async def sent_once() -> bool:
        return [s["body"] for s in await phone.sent()].count("Pedido #123 enviado") == 1

    await wait_for(sent_once)
    sent = next(s for s in await phone.sent() if s["body"] == "Pedido #123 enviado")
    assert sent["chat_id"] == "5511912345678@c.us"
    # Posted into the contact's GHL conversation as an outbound message of the number.
    await wait_for(
        lambda: any(m.get("altId") == sent["id"] for m in bridged.fake.messages.values())
    )
    await phone.ack([sent["id"]], 2)

    async def delivered() -> bool:
        async with _api(bridged, key) as api:
            answer = await api.get(f"/api/v1/messages/{message_id}")
        return bool(answer.json()["message"]["status"] == "delivered")

    await wait_for(delivered)
    await asyncio.sleep(0.5)
    assert [s["body"] for s in await phone.sent()].count("Pedido #123 enviado") == 1
    row = await Message.get(id=message_id)
    assert (row.media or {})["route"]["rule"] == "api"

    async with bridged.app.client(headers={"Authorization": f"Bearer {bridged.token}"}) as c:
        revoked = await c.delete(f"/api/keys/{listed[0]['id']}")
    assert revoked.json()["key"]["revoked"] is True
    async with _api(bridged, key) as api:
        refused = await api.get("/api/v1/numbers")
        forged = await api.get("/api/v1/numbers", headers={"Authorization": key[:-2] + "xx"})
    assert refused.status_code == 401 and forged.status_code == 401


async def test_keys_are_scoped_to_their_location(bridged: Bridged) -> None:
    key = await _new_key(bridged)
    async with _api(bridged, key) as api:
        other = await api.get("/api/v1/messages/999999")
        foreign_number = await api.post(
            "/api/v1/numbers/00000000-0000-0000-0000-000000000000/messages",
            json={"to": CUSTOMER, "text": "x"},
        )
        bad = await api.post(
            f"/api/v1/numbers/{bridged.instance_id}/messages", json={"to": "abc", "text": "x"}
        )
    assert other.status_code == 404 and foreign_number.status_code == 404
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_phone"


async def test_signed_event_webhook_is_retried_after_a_500_and_delivered_once(
    bridged: Bridged, receiver: Receiver
) -> None:
    key = await _new_key(bridged)
    async with _api(bridged, key) as api:
        created = await api.post(
            "/api/v1/webhooks",
            json={"url": f"{receiver.base_url}/hook", "events": ["message.received"]},
        )
    assert created.status_code == 201
    secret = created.json()["secret"]
    receiver.answers.append(500)
    await bridged.phone().deliver(**{"from": "5511912345678", "body": "Oi, quero saber o preço"})
    await wait_for(lambda: len(receiver.events("message.received")) == 1, timeout=90)
    await asyncio.sleep(1.0)
    attempts = [r for r in receiver.received if json.loads(r["body"])["type"] == "message.received"]
    assert [a["status"] for a in attempts] == [500, 200]
    for attempt in attempts:
        assert signing.verify(secret, attempt["body"], attempt["headers"]["x-signature"])
        assert not signing.verify("whsec_wrong", attempt["body"], attempt["headers"]["x-signature"])
    event = receiver.events("message.received")[0]
    assert event["data"]["body"] == "Oi, quero saber o preço"
    assert event["data"]["from"] == CUSTOMER
    assert event["location_id"] == LOCATION
    row = await EventDelivery.get(event_type="message.received")
    assert (row.status, row.attempts, row.last_status) == ("delivered", 2, 200)


async def test_event_socket_streams_the_location_events(bridged: Bridged) -> None:
    key = await _new_key(bridged)
    url = bridged.app.ws_url + "/api/v1/events"
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        await asyncio.sleep(0.2)
        await bridged.phone().deliver(**{"from": "5511912345678", "body": "ao vivo"})
        async with asyncio.timeout(30):
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "message.received":
                    break
    assert event["data"]["body"] == "ao vivo"
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(url, additional_headers={"Authorization": "Bearer gwa_x"}):
            pass


async def test_disconnect_alert_once_per_incident_after_the_grace_then_recovered(
    bridged: Bridged, receiver: Receiver
) -> None:
    cipher = bridged.services.ghl_integration.cipher
    await AgencyAlerts.create(
        company_id=COMPANY,
        url=f"{receiver.base_url}/alerts",
        secret_enc=cipher.encrypt("agency-secret"),
        grace_seconds=1,
    )
    receiver.answers.append(500)  # the first alert attempt fails and is retried
    started = datetime.now(UTC)
    await bridged.phone().crash()
    await wait_for(lambda: len(receiver.events("number.disconnected")) == 1, timeout=90)
    alert = receiver.events("number.disconnected")[0]
    assert alert["data"]["number_id"] == bridged.instance_id
    assert alert["data"]["location_id"] == LOCATION
    assert datetime.fromisoformat(alert["created_at"]) >= started
    signed = [r for r in receiver.received if r["path"] == "/alerts"]
    assert all(
        signing.verify("agency-secret", r["body"], r["headers"]["x-signature"]) for r in signed
    )

    # Back: restored from the profile, or linked again after a QR.
    async def back() -> bool:
        async with bridged.app.client(headers={"Authorization": f"Bearer {bridged.token}"}) as c:
            status = (await c.get(f"/api/instances/{bridged.instance_id}")).json()["status"]
        if status == "qr":
            await bridged.phone().scan(OWN_PHONE)
        return status == "connected"

    await wait_for(back, timeout=90)
    await wait_for(lambda: len(receiver.events("number.recovered")) == 1, timeout=60)
    await asyncio.sleep(2.0)  # past the grace again: no second alert for this incident
    assert len(receiver.events("number.disconnected")) == 1
    assert len(receiver.events("number.recovered")) == 1


async def test_event_webhooks_reach_no_private_address_unless_its_host_is_named(
    receiver: Receiver,
) -> None:
    """Integrators' and agencies' webhook URLs are user content: posted through the address
    guard (issue 14's, as for attachments). Only loopback is ever contacted here."""
    from ghl_app.bridge.media.fetch import AttachmentFetcher, AttachmentRefused

    body = b'{"type":"message.received"}'
    async with httpx.AsyncClient(follow_redirects=False) as http:
        guarded = AttachmentFetcher(http, allowed_hosts=(), max_bytes=4096, noun="webhook")
        for url in (
            f"{receiver.base_url}/hook",
            # Only loopback targets, so a broken guard reaches nothing else: the other ranges
            # (169.254.169.254 and the private ones) are tested as data in test_attachment_guard.
            f"http://0x7f000001:{receiver.base_url.rsplit(':', 1)[1]}/hook",
            "file:///etc/passwd",
        ):
            with pytest.raises(AttachmentRefused):
                await guarded.post(url, content=body, headers={})
        assert receiver.received == []
        named = AttachmentFetcher(http, allowed_hosts=("127.0.0.1",), max_bytes=4096)
        receiver.answers.append(302)  # a redirect is an answer, never followed
        assert (await named.post(f"{receiver.base_url}/hook", content=body, headers={}))[0] == 302
        assert (await named.post(f"{receiver.base_url}/hook", content=body, headers={}))[0] == 200
    assert [r["body"] for r in receiver.received] == [body, body]
