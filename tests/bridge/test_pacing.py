"""Outbound pacing and presence per number (issue 16): a burst of replies from GHL drains at the
number's paced rate (minimum gap with jitter, per-minute cap), in order per chat, none lost or
doubled, visible in the number's journey as queued; "typing…" precedes a text for a time
proportional to its length, capped. The app, the fixture page in real Chromium recording when
WhatsApp took each send, the fake GHL. Small settings keep the test short."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict

from bridge.conftest import Bridged, wait_for
from bridge.test_event_kinds import phone_of, set_settings

CHATS = 50
PER_CHAT = 10
GAP_S = 0.02
PER_MINUTE = 300


async def _customers(bridged: Bridged, count: int) -> list[str]:
    """GHL contact ids of `count` customers who wrote first (their chats exist both sides)."""
    phone = phone_of(bridged)
    for n in range(count):
        await phone.deliver(**{"from": f"55119{n:08d}", "body": f"hello {n}"})
    await wait_for(lambda: len(bridged.inbound_calls()) == count, timeout=120)
    by_text = {m["message"]: m["contactId"] for m in bridged.inbound_calls()}
    return [str(by_text[f"hello {n}"]) for n in range(count)]


async def test_a_burst_of_500_sends_drains_at_the_paced_rate_in_order_none_lost_or_doubled(
    bridged: Bridged,
) -> None:
    await set_settings(
        bridged,
        pacing_min_gap_s=GAP_S,
        pacing_jitter_s=GAP_S,
        pacing_per_minute=PER_MINUTE,
    )
    contacts = await _customers(bridged, CHATS)
    phone = phone_of(bridged)
    for k in range(PER_CHAT):
        for n, contact_id in enumerate(contacts):
            _, status = await bridged.reply_from_ghl(contact_id, f"c{n}-{k}")
            assert status == 200
    total = CHATS * PER_CHAT

    async def journey_queued() -> int:
        async with bridged.app.client() as client:
            answer = await client.get(
                f"/api/instances/{bridged.instance_id}/messages",
                params={"status": "pending", "limit": 200},
                headers={"Authorization": f"Bearer {bridged.token}"},
            )
        return sum(
            1
            for m in answer.json()["messages"]
            if m["status"] == "pending" and (m["error"] or "").startswith("queued")
        )

    # The per-minute cap holds the rest back: the page shows them as queued meanwhile.
    await asyncio.sleep(3.0)
    assert await journey_queued() > 0

    async def all_sent() -> bool:
        return len(await phone.sent()) >= total

    await wait_for(all_sent, timeout=300)
    await asyncio.sleep(1.0)
    sent = [s for s in await phone.sent() if s["type"] == "chat"]
    bodies = [s["body"] for s in sent]
    assert Counter(bodies) == Counter(f"c{n}-{k}" for n in range(CHATS) for k in range(PER_CHAT))
    per_chat: dict[str, list[str]] = defaultdict(list)
    for s in sent:
        per_chat[s["chat_id"]].append(s["body"])
    for chat_bodies in per_chat.values():
        n = chat_bodies[0].split("-")[0]
        assert chat_bodies == [f"{n}-{k}" for k in range(PER_CHAT)]
    times = sorted(float(s["at"]) / 1000 for s in sent)
    # At most PER_MINUTE sends in any minute (a little slack for the page's own clock reads).
    for i in range(len(times) - PER_MINUTE):
        assert times[i + PER_MINUTE] - times[i] >= 59.5
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    assert gaps[len(gaps) // 2] >= GAP_S  # the typical gap is at least the minimum


async def test_typing_precedes_a_text_for_a_time_proportional_to_its_length_capped(
    bridged: Bridged,
) -> None:
    await set_settings(bridged, typing=True, typing_max_s=1.0)
    [contact_id] = await _customers(bridged, 1)
    phone = phone_of(bridged)
    await bridged.reply_from_ghl(contact_id, "hi there")  # 8 characters: 0.4 s
    await bridged.reply_from_ghl(contact_id, "x" * 100)  # 5 s, capped at 1 s

    async def both() -> bool:
        return len(await phone.sent()) == 2

    await wait_for(both, timeout=30)
    typing = await phone.composing()
    assert [t["duration"] for t in typing] == [400, 1000]
    sent = await phone.sent()
    for shown, message in zip(typing, sent, strict=True):
        assert shown["chat_id"] == message["chat_id"]
        assert message["at"] - shown["at"] >= shown["duration"] - 50
