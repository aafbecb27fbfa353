"""The engine's start path in real Chromium: the binding is exposed while the page loads, so the
page's bridge queues what it emits before the binding takes events; nothing may be lost,
reordered, or left running when a start fails."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from connectors import _chromium, _processes
from connectors.base import EngineError
from connectors.events import Connected, Message
from connectors.playwright_engine import PlaywrightConfig, PlaywrightEngine
from support.wa_fixture import FAST, EventRecorder, StaticServer

pytestmark = pytest.mark.browser

TESTS_DIR = Path(__file__).resolve().parents[1]
BRIDGE_JS = TESTS_DIR.parent / "connectors" / "wa_bridge.js"
# The fake page keeps its login in localStorage (as WhatsApp Web keeps it in the profile).
LINKED = "localStorage.setItem('fake-wa:linked', JSON.stringify({wid: '5511900000009@c.us'}))"


@pytest.fixture(scope="module")
def tests_server() -> Iterator[StaticServer]:
    """Serves the checkout, so a page here can load the real fixture from /ghl_app/demo/wa/."""
    with StaticServer(TESTS_DIR.parent) as server:
        yield server


@pytest.fixture
async def bridge_page(chromium_path: str, wa_fixture_server: StaticServer) -> AsyncIterator[Page]:
    """The fixture page with the engine's bridge injected and no binding at all yet."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium_path, args=_chromium.launch_args()
        )
        page = await browser.new_page()
        await page.context.add_init_script(LINKED)  # messages need a linked phone
        await page.context.add_init_script(path=BRIDGE_JS)
        await page.goto(wa_fixture_server.url())  # one QR for a minute: no rotation mid-test
        await page.wait_for_function("() => window.__waBridge && window.__waBridge.attached")
        yield page
        await browser.close()


async def _deliver(page: Page, body: str) -> None:
    await page.evaluate("(body) => window.__fixture.deliver({from: '5511900000002', body})", body)


async def _received(page: Page) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = await page.evaluate("window.__got || []")
    return got


async def test_bridge_queues_events_until_the_binding_is_ready_then_flushes_them_in_order(
    bridge_page: Page,
) -> None:
    page = bridge_page
    for i in range(3):
        await _deliver(page, f"before binding {i}")
    # The binding exists but the engine has not said it takes events yet: still queued.
    await page.evaluate("() => { window.__got = []; window.__waEmit = (e) => __got.push(e); }")
    await _deliver(page, "before ready")
    await asyncio.sleep(0.2)
    assert await _received(page) == []
    await page.evaluate("window.__waEmitReady = true")
    await page.wait_for_function("() => window.__got.length >= 5", timeout=2000)
    await _deliver(page, "after ready")  # nothing queued any more: straight through
    got = await _received(page)
    assert [e["kind"] for e in got].count("connected") == 1  # the restored login, reported once
    bodies = [e["message"]["body"] for e in got if e["kind"] == "message"]
    assert bodies == [*(f"before binding {i}" for i in range(3)), "before ready", "after ready"]


async def test_page_emitting_as_soon_as_the_bridge_listens_loses_no_event(
    tmp_path: Path, chromium_path: str, tests_server: StaticServer
) -> None:
    recorder = EventRecorder()
    config = PlaywrightConfig(
        chromium_path=chromium_path,
        wa_web_url=tests_server.url("tests/wa_engine/early_events.html", **FAST),
        wa_js_path=None,
        device_name="GHL WhatsApp test",
    )
    engine = PlaywrightEngine("inst-early", tmp_path / "profile", recorder, config)
    try:
        await engine.start()
        await recorder.wait_for(Connected)
        await recorder.wait_for(Message, count=5)
        kinds = [type(e).__name__ for e in recorder.events]
        # The messages come while the bridge attaches, the login check right after it.
        assert kinds[:6] == ["Message"] * 5 + ["Connected"]
        assert [m.body for m in recorder.of(Message)] == [f"early {i}" for i in range(5)]
        # Whether the binding was already ready then depends on timing: either way, none lost.
        assert await engine.page.evaluate("typeof window.__earlyBindingReady") == "boolean"
    finally:
        await engine.stop()


async def test_start_on_a_page_that_does_not_load_fails_cleanly_with_no_process_left(
    tmp_path: Path, chromium_path: str
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    profile = tmp_path / "profile"
    config = PlaywrightConfig(
        chromium_path=chromium_path,
        wa_web_url=f"http://127.0.0.1:{port}/",
        wa_js_path=None,
        device_name="GHL WhatsApp test",
    )
    engine = PlaywrightEngine("inst-down", profile, EventRecorder(), config)
    with pytest.raises(EngineError) as info:
        await engine.start()
    assert info.value.code == "wa_web_not_loaded"
    assert not engine.running
    assert engine.pids() == []
    assert _processes.pids_using_profile(profile.resolve()) == set()
    await engine.stop()  # nothing to stop, and no error
