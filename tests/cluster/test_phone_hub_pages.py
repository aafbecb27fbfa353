"""The phone hub's own accounting, on real fixture pages in Chromium (no app): what the cluster
tests assert on must be able to fail. Two pages of one device at once count as two; a page that
stops reporting ended at its last report; a message for a device with no live page waits for
the device's next page, as WhatsApp's servers hold it for an offline device."""

from __future__ import annotations

import asyncio
import time

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route

from support.phone_hub import GAP_SECONDS, PhoneHubServer, phone_hub

pytestmark = pytest.mark.browser

PHONE = "+55 11 98888-0001"
DEVICE = "5511988880001"


async def _open(hub: PhoneHubServer, context: BrowserContext) -> Page:
    page = await context.new_page()
    await page.goto(hub.wa_web_url())
    return page


async def _link(hub: PhoneHubServer, context: BrowserContext) -> Page:
    """A new page showing a QR, scanned by PHONE through the QR's text (as the app shows it)."""
    before = {p.page_id for p in hub.waiting_pages()}
    page = await _open(hub, context)
    async with asyncio.timeout(10):
        while not (fresh := [p for p in hub.waiting_pages() if p.page_id not in before]):
            await asyncio.sleep(0.05)
    assert fresh[0].code.startswith(fresh[0].ref + ",")  # wa-js's fullCode: ref,keys...
    page_id = hub.scan(fresh[0].code, PHONE)
    async with asyncio.timeout(10):
        while page_id not in {r.page_id for r in hub.pages_of(DEVICE)}:
            await asyncio.sleep(0.05)
    return page


async def test_two_pages_of_one_device_alive_at_once_count_as_two(browser: Browser) -> None:
    with phone_hub() as hub:
        first, second = await browser.new_context(), await browser.new_context()
        try:
            await _link(hub, first)
            assert hub.max_concurrent(DEVICE) == 1
            await _link(hub, second)
            await asyncio.sleep(1.0)  # both report again
            assert len(hub.pages_of(DEVICE, alive_within=GAP_SECONDS)) == 2
            assert hub.max_concurrent(DEVICE) == 2
            [overlap] = hub.overlaps(DEVICE)
            assert overlap.seconds >= 0.5
            assert hub.devices() == [DEVICE]
        finally:
            await first.close()
            await second.close()


async def test_a_message_for_an_offline_device_waits_for_its_next_page(browser: Browser) -> None:
    with phone_hub() as hub:
        context = await browser.new_context()
        try:
            opened = time.monotonic()
            page = await _link(hub, context)
            await page.close()
            closed = time.monotonic()
            assert len(hub.qr_pages_since(opened)) == 1
            await asyncio.sleep(GAP_SECONDS + 0.5)
            assert hub.pages_of(DEVICE, alive_within=GAP_SECONDS) == []
            hub.deliver(PHONE, "5511977700009", "are you there?", name="Ana")
            assert hub.undelivered(PHONE) == 1
            # The same profile opened again: the fixture restores the login (no QR) and the
            # held message reaches it.
            restored = await _open(hub, context)
            bodies = "async () => (await WPP.chat.list()).flatMap((c) => c.msgIds)"
            async with asyncio.timeout(10):
                while not await restored.evaluate(bodies):
                    await asyncio.sleep(0.1)
            chat = await restored.evaluate(
                "async () => (await WPP.chat.getMessages('5511977700009@c.us')).map((m) => m.body)"
            )
            assert chat == ["are you there?"]
            await asyncio.sleep(1.0)  # its next report acknowledges it
            assert hub.undelivered(PHONE) == 0
            assert hub.hub.handed[DEVICE] == 1
            assert hub.qr_pages_since(closed) == []  # the login restored: no QR
            pages = hub.pages_of(DEVICE)
            assert len(pages) == 2 and pages[0].last < pages[1].first
            assert hub.max_concurrent(DEVICE) == 1
            assert hub.overlaps(DEVICE) == []
        finally:
            await context.close()


async def test_a_message_its_page_never_acknowledged_goes_again_to_the_next_page(
    browser: Browser,
) -> None:
    """The page's report answer carrying the message is lost (the page dies with it): the hub
    hands it, with the same id, to the device's next page."""
    with phone_hub() as hub:
        context = await browser.new_context()
        try:
            page = await _link(hub, context)
            lost: list[dict[str, object]] = []

            async def lose_deliveries(route: Route) -> None:
                answer = await route.fetch()
                commands = (await answer.json())["commands"]
                if any(c["op"] == "deliver" for c in commands):
                    lost.extend(commands)
                    await route.abort()
                else:
                    await route.fulfill(response=answer)

            await page.route("**/demo/wa/report", lose_deliveries)
            message_id = hub.deliver(PHONE, "5511977700009", "first try lost", name="Ana")
            async with asyncio.timeout(10):
                while not lost:
                    await asyncio.sleep(0.05)
            await page.close()
            assert hub.undelivered(PHONE) == 1  # handed out, never acknowledged
            await asyncio.sleep(GAP_SECONDS + 0.5)
            restored = await _open(hub, context)
            ids = "async () => (await WPP.chat.list()).flatMap((c) => c.msgIds)"
            async with asyncio.timeout(10):
                while not await restored.evaluate(ids):
                    await asyncio.sleep(0.1)
            [stored] = await restored.evaluate(ids)
            assert message_id in stored
            await asyncio.sleep(1.0)  # its next report acknowledges it
            assert hub.undelivered(PHONE) == 0
            assert hub.hub.handed[DEVICE] == 2
        finally:
            await context.close()


async def test_scanning_a_qr_no_page_shows_is_refused() -> None:
    with phone_hub() as hub:
        with pytest.raises(LookupError):
            hub.scan("2@not-shown-anywhere,aa,bb,cc", PHONE)
        with pytest.raises(LookupError):
            hub.deliver(PHONE, "5511977700009", "nobody ever linked this number")
