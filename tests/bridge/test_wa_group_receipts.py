"""Group receipts per participant (wa-js audit finding 13): in a group, wa-js fires one
`chat.msg_ack_change` per participant's receipt, naming them as `sender`
(chat/events/registerAckMessageEvent.ts). GHL sees delivered at the first participant's phone
and read only once every member known at the send has read; the journey shows each one."""

from __future__ import annotations

import asyncio

from bridge.conftest import Bridged, wait_for

GROUP = "120363000000000077@g.us"
CARLA, BRUNO, DORA = "5511911112222@c.us", "5511933334444@c.us", "5511955556666@c.us"


async def _group_reply(bridged: Bridged) -> tuple[str, str, str]:
    """A group with three members besides us, and a reply typed in GHL into it: (GHL message
    id, WhatsApp id, the number's id)."""
    headers = {"Authorization": f"Bearer {bridged.token}"}
    async with bridged.app.client(headers=headers) as client:
        await client.patch(
            f"/api/instances/{bridged.instance_id}/settings", json={"groups_enabled": True}
        )
    phone = bridged.phone()
    await phone.deliver(group=GROUP, author=CARLA, subject="Obra", body="bom dia", notifyName="C")
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    await phone.group_participants(GROUP, [CARLA, BRUNO, DORA, "5511900000001@c.us"])
    contact_id = bridged.inbound_calls()[0]["contactId"]
    ghl_id, status = await bridged.reply_from_ghl(contact_id, "bom dia a todos")
    assert status == 200

    async def reached() -> bool:
        return any(s["body"] == "bom dia a todos" for s in await phone.sent())

    await wait_for(reached)
    sent = next(s for s in await phone.sent() if s["body"] == "bom dia a todos")
    assert sent["chat_id"] == GROUP
    return ghl_id, sent["id"], bridged.instance_id


async def _journey(bridged: Bridged, wa_id: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {bridged.token}"}
    async with bridged.app.client(headers=headers) as client:
        listed = await client.get(f"/api/instances/{bridged.instance_id}/messages")
    assert listed.status_code == 200
    [view] = [m for m in listed.json()["messages"] if m["wa_message_id"] == wa_id]
    return dict(view)


async def test_a_group_message_is_read_only_when_every_member_has_read_it(
    bridged: Bridged,
) -> None:
    ghl_id, wa_id, _ = await _group_reply(bridged)
    phone = bridged.phone()
    status = lambda: bridged.fake.messages[ghl_id].get("status")  # noqa: E731

    await phone.ack([wa_id], 1)  # the server took it (MsgStore, no sender)
    await phone.ack([wa_id], 2, CARLA)
    await wait_for(lambda: status() == "delivered")
    await phone.ack([wa_id], 3, CARLA)
    await phone.ack([wa_id], 3, BRUNO)  # read without a delivered receipt first
    await asyncio.sleep(1.0)
    assert status() == "delivered"  # two of three read: not "read" yet

    view = await _journey(bridged, wa_id)
    assert view["status"] == "delivered"
    receipts = {r["participant"]: r for r in view["receipts"]}  # type: ignore[attr-defined]
    # The members listed at the send, without our own number.
    assert set(receipts) == {CARLA, BRUNO, DORA}
    assert receipts[CARLA]["read_at"] and receipts[CARLA]["delivered_at"]
    assert receipts[BRUNO]["read_at"] and receipts[BRUNO]["delivered_at"]
    assert receipts[DORA]["delivered_at"] is None and receipts[DORA]["read_at"] is None

    await phone.ack([wa_id], 3, DORA)
    await wait_for(lambda: status() == "read")
    view = await _journey(bridged, wa_id)
    assert view["status"] == "read"
    assert all(r["read_at"] for r in view["receipts"])  # type: ignore[attr-defined]
    # GHL got each status once: delivered, then read.
    updates = [
        (c.json or {}).get("status")
        for c in bridged.fake.calls
        if c.path == f"/conversations/messages/{ghl_id}/status" and c.status < 300
    ]
    assert updates == ["delivered", "read"]
