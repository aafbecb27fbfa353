"""GHL's daily limit (issue 13, item 6): 200,000 requests per app per location a day, reported on
every answer (X-RateLimit-Limit-Daily, X-RateLimit-Daily-Remaining; the fake sends both). Near
its end, work that can wait (delivered/read ticks, group renames) waits and messages keep going;
at its end everything waits, and /healthz names the location."""

from __future__ import annotations

import asyncio

from bridge.conftest import LOCATION, Bridged, wait_for

from ghl_app.models import Message, MessageStatus


async def _healthz_low(bridged: Bridged) -> list[str]:
    async with bridged.app.client() as client:
        low: list[str] = (await client.get("/healthz")).json()["ghl_daily_budget_low"]
    return low


async def test_near_the_daily_limit_ticks_wait_and_messages_go_then_at_zero_all_wait(
    bridged: Bridged,
) -> None:
    fake = bridged.fake
    phone = bridged.phone()
    fake.daily_used[LOCATION] = fake.daily_limit - 400  # under the 500-request reserve
    await phone.deliver(**{"from": "5511966660001", "body": "oi"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    assert await _healthz_low(bridged) == [LOCATION]
    contact_id = bridged.inbound_calls()[0]["contactId"]
    ghl_id, _ = await bridged.reply_from_ghl(contact_id, "resposta")

    async def reached() -> bool:
        return any(s["body"] == "resposta" for s in await phone.sent())

    await wait_for(reached)
    sent = next(s for s in await phone.sent() if s["body"] == "resposta")
    await phone.ack([sent["id"]], 2)  # delivered: a tick, which can wait
    await wait_for(
        lambda: Message.filter(ghl_message_id=ghl_id, status=MessageStatus.DELIVERED).exists()
    )
    await asyncio.sleep(1.5)
    assert fake.messages[ghl_id].get("status") != "delivered"
    assert not fake.calls_to(f"/conversations/messages/{ghl_id}/status")

    # The day's last request posts the next message; after it, everything waits.
    fake.daily_used[LOCATION] = fake.daily_limit - 1
    await phone.deliver(**{"from": "5511966660001", "body": "segunda"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 2)
    await phone.deliver(**{"from": "5511966660001", "body": "terceira"})
    await wait_for(lambda: Message.filter(location_id=LOCATION, body="terceira").exists())
    calls = len(fake.calls)
    await asyncio.sleep(2.0)
    assert len(fake.calls) == calls  # nothing hammers GHL
    row = await Message.get(location_id=LOCATION, body="terceira")
    assert row.status == MessageStatus.RECEIVED  # kept, to go when the budget is back
