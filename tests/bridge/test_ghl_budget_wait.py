"""A post our own limiter held back (GHL's burst budget, 100 requests / 10 s per location) was
never sent: when its turn comes it is posted, not looked for in the conversation first as an
unanswered post would be; such a lookup spends the budget that ran out (found by the catch-up
benchmark: one wasted call per deferred message)."""

from __future__ import annotations

import asyncio

from bridge.conftest import Bridged, wait_for

CHATS = [f"55119{n:08d}" for n in range(300, 305)]
MESSAGES = 110  # more than one window of GHL's burst budget, with the contacts' own calls


async def test_messages_held_back_by_the_budget_are_posted_once_without_lookups(
    bridged: Bridged,
) -> None:
    phone = bridged.phone()
    for i in range(MESSAGES):
        await phone.deliver(**{"from": CHATS[i % len(CHATS)], "body": f"m{i:03d}"})
    await wait_for(lambda: len(bridged.inbound_calls()) >= MESSAGES, timeout=120)
    await asyncio.sleep(1.0)
    bodies = [m["message"] for m in bridged.inbound_calls()]
    assert sorted(bodies) == [f"m{i:03d}" for i in range(MESSAGES)]
    lookups = [c for c in bridged.fake.calls if c.method == "GET" and c.path.endswith("/messages")]
    assert lookups == []
