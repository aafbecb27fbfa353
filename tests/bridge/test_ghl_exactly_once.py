"""Inbound exactly once on GHL as it really is (issue 13, item 2): GHL has no dedupe or lookup
by our `altId`, may store a post it answers after our timeout, and may answer 201 with an empty
body and store nothing (highlevel-api-docs issue #70).

The app runs over HTTP with the fixture page in Chromium; the fake GHL stores a message and
then answers after the app's GHL timeout, or answers the empty 201. Both of GHL's undocumented
variants are run: `dateAdded` as the posted `date` or as the time GHL stored it, and the message
list in the spec's shape or nested under `messages` (issue #54).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from bridge.conftest import COMPANY, LOCATION, Bridged, connect_instance, seed_location, wait_for

from ghl_app.demo.fake_ghl import run_fake_ghl
from ghl_app.models import Message, MessageStatus
from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from support.app_server import run_app
from web.app import create_app

CHAT = "5511977770001"


@dataclass(frozen=True)
class Variant:
    date_added: str
    messages_shape: str


VARIANTS = [Variant("sent", "nested"), Variant("stored", "spec")]


@pytest.fixture(params=VARIANTS, ids=lambda v: f"{v.date_added}-{v.messages_shape}")
async def slow_ghl(
    request: pytest.FixtureRequest, bridge_env: Callable[..., Settings]
) -> AsyncIterator[Bridged]:
    """A connected number whose GHL client gives up after 1 s; the fake's late answers come
    after 2.5 s."""
    variant: Variant = request.param
    async with run_fake_ghl(rate_limit=(1000, 10.0), hang_seconds=2.5) as fake:
        fake.date_added = variant.date_added
        fake.messages_shape = variant.messages_shape
        settings = bridge_env(fake, GHL_TIMEOUT_SECONDS="1")
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
            yield Bridged(
                app=app, fake=fake, settings=settings, instance_id=instance_id, token=token
            )


async def _all_synced(count: int) -> bool:
    rows = await Message.filter(location_id=LOCATION, wa_message_id__not_isnull=True).all()
    return len(rows) >= count and all(r.status == MessageStatus.SYNCED for r in rows)


async def _check_once(bridged: Bridged, bodies: list[str]) -> None:
    await asyncio.sleep(1.0)  # a duplicate would land now
    posted = [m["message"] for m in bridged.inbound_calls()]
    assert posted == bodies
    rows = await Message.filter(location_id=LOCATION).order_by("id")
    assert [r.ghl_message_id for r in rows] == [m["id"] for m in bridged.inbound_calls()]


async def test_posts_ghl_stored_but_answered_after_our_timeout_land_once(
    slow_ghl: Bridged,
) -> None:
    fake = slow_ghl.fake
    fake.inbound_quirks = ["store_then_hang"] * 3
    bodies = ["first", "second", "third"]
    for body in bodies:
        await slow_ghl.phone().deliver(**{"from": CHAT, "body": body})
    await wait_for(lambda: _all_synced(3), timeout=90)
    await _check_once(slow_ghl, bodies)
    # Each retry read the conversation instead of posting again.
    assert len(fake.calls_to("/conversations/messages/inbound")) == 3
    listings = [c for c in fake.calls if c.path.endswith("/messages") and c.method == "GET"]
    assert len(listings) >= 3


async def test_the_same_words_twice_both_land_when_the_second_post_times_out(
    slow_ghl: Bridged,
) -> None:
    """The earlier "ok" in the conversation is not taken for the later one's lost post."""
    slow_ghl.fake.inbound_quirks = ["", "store_then_hang"]
    for _ in range(2):
        await slow_ghl.phone().deliver(**{"from": CHAT, "body": "ok"})
    await wait_for(lambda: _all_synced(2), timeout=90)
    await _check_once(slow_ghl, ["ok", "ok"])


async def test_an_empty_201_is_a_failure_retried_until_the_message_is_stored(
    slow_ghl: Bridged,
) -> None:
    fake = slow_ghl.fake
    fake.inbound_quirks = ["empty_201", "empty_201"]
    await slow_ghl.phone().deliver(**{"from": CHAT, "body": "hello"})
    await wait_for(lambda: _all_synced(1), timeout=90)
    await _check_once(slow_ghl, ["hello"])
    assert [c.status for c in fake.calls_to("/conversations/messages/inbound")] == [201, 201, 200]
    row = await Message.get(location_id=LOCATION)
    assert row.error is None
