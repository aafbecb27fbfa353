"""Each message's journey is visible per instance, failures say why, and failed work is retried
from the page's API; group chats stay out unless the instance lets them in."""

from __future__ import annotations

import asyncio

from bridge.conftest import Bridged, wait_for


async def test_reply_with_no_connected_number_fails_clearly_then_retry_sends_it(
    bridged: Bridged,
) -> None:
    headers = {"Authorization": f"Bearer {bridged.token}"}
    phone = bridged.phone()
    await phone.deliver(**{"from": "5511944443333", "body": "oi"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    contact_id = bridged.inbound_calls()[0]["contactId"]
    async with bridged.app.client(headers=headers) as client:
        await client.post(f"/api/instances/{bridged.instance_id}/stop")
        ghl_id, _ = await bridged.reply_from_ghl(contact_id, "are you there?")
        await wait_for(lambda: bridged.fake.messages[ghl_id].get("status") == "failed")
        assert "no WhatsApp number" in bridged.fake.messages[ghl_id]["error"]["message"]

        jobs = (await client.get("/api/jobs", params={"status": "failed"})).json()["jobs"]
        assert [job["kind"] for job in jobs] == ["ghl_to_wa"]
        assert "no WhatsApp number of this location is connected" in jobs[0]["last_error"]
        # The instance's journey holds only messages it handled: the inbound one, synced.
        journey = (await client.get(f"/api/instances/{bridged.instance_id}/messages")).json()
        assert [(m["origin"], m["status"]) for m in journey["messages"]] == [("whatsapp", "synced")]

        started = await client.post(f"/api/instances/{bridged.instance_id}/start")
        assert started.json()["qr"] is None  # the saved login comes back
        await wait_for(lambda: _status(client, bridged.instance_id), timeout=20)
        retried = await client.post(f"/api/jobs/{jobs[0]['id']}/retry")
        assert retried.status_code == 200 and retried.json()["job"]["status"] == "queued"
        again = await client.post(f"/api/jobs/{jobs[0]['id']}/retry")
        assert again.status_code == 409

        async def reached() -> bool:
            return any(s["body"] == "are you there?" for s in await bridged.phone().sent())

        await wait_for(reached)
        journey = (await client.get(f"/api/instances/{bridged.instance_id}/messages")).json()
        assert ("ghl", "sent") in [(m["origin"], m["status"]) for m in journey["messages"]]


async def _status(client, instance_id: str) -> bool:  # type: ignore[no-untyped-def]
    return bool((await client.get(f"/api/instances/{instance_id}")).json()["status"] == "connected")


async def test_journey_and_jobs_of_another_location_answer_404(bridged: Bridged) -> None:
    from datetime import UTC, datetime

    from ghl_app.models import Location
    from ghl_app.page_tokens import issue_token

    # Another installed location (a token of a location not installed is refused outright).
    await Location.create(location_id="loc-other", installed_at=datetime.now(UTC))
    other, _ = issue_token(
        bridged.settings.app_secret,
        location_id="loc-other",
        user_id="x",
        company_id="c",
        role="admin",
    )
    async with bridged.app.client(headers={"Authorization": f"Bearer {other}"}) as client:
        journey = await client.get(f"/api/instances/{bridged.instance_id}/messages")
        settings = await client.patch(
            f"/api/instances/{bridged.instance_id}/settings", json={"groups_enabled": True}
        )
        jobs = (await client.get("/api/jobs")).json()["jobs"]
    assert journey.status_code == 404 and settings.status_code == 404
    assert jobs == []


async def test_group_chats_are_off_by_default_and_named_with_the_sender_when_on(
    bridged: Bridged,
) -> None:
    phone = bridged.phone()
    group = {"group": "120363000000000001@g.us", "author": "5511911112222", "notifyName": "Carla"}
    await phone.deliver(**{**group, "body": "first, while groups are off"})
    await asyncio.sleep(1.5)
    assert bridged.inbound_calls() == []
    headers = {"Authorization": f"Bearer {bridged.token}"}
    async with bridged.app.client(headers=headers) as client:
        turned = await client.patch(
            f"/api/instances/{bridged.instance_id}/settings", json={"groups_enabled": True}
        )
        assert turned.json() == {"groups_enabled": True, "is_default": False}
    await phone.deliver(**{**group, "body": "bom dia"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    assert bridged.inbound_calls()[0]["message"] == "Carla: bom dia"
    group_contacts = [
        c for c in bridged.fake.contacts.values() if "whatsapp-group" in (c.get("tags") or [])
    ]
    assert len(group_contacts) == 1
