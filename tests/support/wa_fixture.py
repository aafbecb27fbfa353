"""Reusable support for tests that need the fake WhatsApp Web page.

Import it as `support.wa_fixture` (tests/ is on pytest's pythonpath) and re-export the
pytest fixtures from a conftest:

    from support.wa_fixture import chromium_path, wa_fixture_server  # noqa: F401

- `wa_fixture_server` (session): serves ghl_app/demo/wa over HTTP on 127.0.0.1; `.url(**q)`
  gives the page URL with query parameters (`qr_first_ms`, `qr_ms`, `qr_max`, `ready_ms`,
  `auto_ack`).
- `chromium_path` (session): the Chromium to launch; fails with the fix when there is none.
- `EventRecorder`: an EventSink that records events and lets a test await one.
- `make_engine` (function): builds PlaywrightEngines on the fixture page (temporary profile,
  fast QR rotation) and stops them after the test; returns (engine, recorder).
- `FakeWhatsApp(page)`: drives `window.__fixture` (the phone and the network).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import http.server
import os
import socketserver
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import urlencode

import pytest
from playwright.async_api import Browser, Page, async_playwright

from connectors.events import EngineEvent
from connectors.playwright_engine import PlaywrightConfig, PlaywrightEngine
from connectors.wajs import find_chromium
from ghl_app.demo.paths import FIXTURE_WA_DIR
from ghl_app.settings import Settings
from support.app_server import test_settings

FIXTURE_DIR = FIXTURE_WA_DIR

E = TypeVar("E")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class LocalHttpServer:
    """An HTTP server on 127.0.0.1, on a free port, in a thread; one request handler class."""

    def __init__(self, handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> None:
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


class StaticServer(LocalHttpServer):
    """A static HTTP server for one folder."""

    def __init__(self, directory: Path) -> None:
        super().__init__(functools.partial(_QuietHandler, directory=str(directory)))

    def url(self, path: str = "index.html", **query: Any) -> str:
        qs = f"?{urlencode(query)}" if query else ""
        return f"{self.base_url}/{path}{qs}"


@pytest.fixture(scope="session")
def wa_fixture_server() -> Iterator[StaticServer]:
    with StaticServer(FIXTURE_DIR) as server:
        yield server


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    """A real Chromium for tests that drive our pages as a user's browser does."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path, args=args)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or find_chromium()
    if not path:
        pytest.fail("no Chromium: run `bash scripts/system-deps.sh` or set CHROMIUM_PATH")
    return path


class EventRecorder:
    """An EventSink that keeps every event and wakes waiters."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self._changed = asyncio.Event()

    async def __call__(self, event: EngineEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(
        self,
        kind: type[E],
        predicate: Callable[[E], bool] = lambda _e: True,
        *,
        timeout: float = 5.0,
        count: int = 1,
    ) -> E:
        """The `count`-th event of `kind` matching `predicate` (waiting for it if needed)."""
        async with asyncio.timeout(timeout):
            while True:
                found = [e for e in self.of(kind) if predicate(e)]
                if len(found) >= count:
                    return found[count - 1]
                self._changed.clear()
                await self._changed.wait()


# Fast QR rotation for the tests; the defaults imitate WhatsApp (60 s, then 20 s).
FAST = {"qr_first_ms": 600, "qr_ms": 300, "qr_max": 6}

EngineMaker = Callable[..., Awaitable[tuple[PlaywrightEngine, EventRecorder]]]


@pytest.fixture
async def make_engine(
    tmp_path: Path, chromium_path: str, wa_fixture_server: StaticServer
) -> AsyncIterator[EngineMaker]:
    """Builds (and afterwards stops) engines on the fixture page; started unless start=False."""
    engines: list[PlaywrightEngine] = []

    async def make(
        *,
        profile: Path | None = None,
        start: bool = True,
        query: dict[str, Any] | None = None,
        instance_id: str = "inst-1",
    ) -> tuple[PlaywrightEngine, EventRecorder]:
        recorder = EventRecorder()
        config = PlaywrightConfig(
            chromium_path=chromium_path,
            wa_web_url=wa_fixture_server.url(**(FAST if query is None else query)),
            wa_js_path=None,
            device_name="GHL WhatsApp test",
        )
        engine = PlaywrightEngine(instance_id, profile or tmp_path / "profile", recorder, config)
        engines.append(engine)
        if start:
            await engine.start()
        return engine, recorder

    yield make
    for engine in engines:
        await engine.stop()


class FakeWhatsApp:
    """Drives the fixture page's `window.__fixture`: what the phone and the network do."""

    def __init__(self, page: Page) -> None:
        self.page = page

    async def _call(self, name: str, *args: Any) -> Any:
        return await self.page.evaluate(
            "([name, args]) => window.__fixture[name](...args)", [name, list(args)]
        )

    async def scan(self, phone: str, device: int | None = None) -> None:
        await self._call("scan", phone, device)

    async def confirm_pairing(self, code: str | None = None) -> None:
        """The user typed the code on the phone (checked against the active one if given)."""
        if code is None:
            await self._call("confirmPairing")
        else:
            await self._call("confirmPairing", code)

    async def expire_pairing_code(self) -> None:
        await self._call("expirePairingCode")

    async def deliver(self, **opts: Any) -> dict[str, str]:
        """See fake-wpp.js `deliver`; `media=(bytes, mimetype, filename)` is encoded here."""
        media = opts.pop("media", None)
        if media is not None:
            data, mimetype, filename = media
            opts["media"] = {
                "base64": base64.b64encode(data).decode(),
                "mimetype": mimetype,
                "filename": filename,
            }
        result: dict[str, str] = await self._call("deliver", opts)
        return result

    async def phone_typed(self, chat: str, text: str) -> dict[str, str]:
        result: dict[str, str] = await self._call("phoneTyped", chat, text)
        return result

    async def rename_group(self, group: str, subject: str) -> None:
        await self._call("renameGroup", group, subject)

    async def ack(self, ids: list[str], level: int, participant: str | None = None) -> None:
        """wa-js's acks: 1 from the MsgStore; >= 2 a receipt, in a group one per participant."""
        if participant is None:
            await self._call("ack", ids, level)
        else:
            await self._call("ack", ids, level, participant)

    async def group_participants(self, group: str, members: list[str]) -> None:
        await self._call("groupParticipants", group, members)

    async def revoke(self, message_id: str) -> None:
        await self._call("revoke", message_id)

    async def logout_from_phone(self, reason: str | None = None) -> None:
        if reason is None:
            await self._call("logoutFromPhone")
        else:
            await self._call("logoutFromPhone", reason)

    async def sent(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("sent")
        return result

    async def fail_sends(self, *results: str) -> None:
        """The next sends get these wa-js send results (e.g. "ERROR_NETWORK") instead of OK."""
        await self._call("failSends", list(results))

    async def read_chats(self) -> list[str]:
        """Chats a send marked read on the phone (wa-js's markIsRead default)."""
        result: list[str] = await self._call("readChats")
        return result

    async def stream_mode(self, mode: str) -> None:
        """WhatsApp's stream mode changes (OFFLINE, CONFLICT, MAIN, ...), as wa-js emits it."""
        await self._call("streamMode", mode)

    async def stream_info(self, info: str) -> None:
        """WhatsApp's internal connection state (NORMAL, OFFLINE, CONNECTING, ...)."""
        await self._call("streamInfo", info)

    async def online(self, value: bool) -> None:
        """WhatsApp Web's network status (conn.online)."""
        await self._call("online", value)

    async def backend_event(self, name: str, *args: Any) -> None:
        """A BackendEventBus event (conn.backend_event: the name, then its arguments)."""
        await self._call("backendEvent", name, *args)

    async def takeover_calls(self) -> int:
        result: int = await self._call("takeoverCalls")
        return result

    async def known_numbers(self, mapping: dict[str, dict[str, Any]]) -> None:
        await self._call("knownNumbers", mapping)

    async def needs_update(self) -> None:
        await self._call("needsUpdate")

    async def module_missing(self, name: str) -> None:
        await self._call("moduleMissing", name)

    async def lookup_errors(self, count: int) -> None:
        """The next `count` number lookups fail on WhatsApp's side (wa-js answers null)."""
        await self._call("lookupErrors", count)

    async def state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("state")
        return result

    async def crash(self) -> None:
        """Crash the renderer, as an out-of-memory kill would (JS cannot do this itself)."""
        session = await self.page.context.new_cdp_session(self.page)
        with contextlib.suppress(Exception):  # the session dies with the renderer
            await session.send("Page.crash")


def engine_settings(data_dir: Path, chromium_path: str, server: StaticServer) -> Settings:
    """Settings whose default Playwright engines open the fake page with fast QR rotation."""
    return test_settings(
        str(data_dir),
        WA_WEB_URL=server.url(**FAST),
        CHROMIUM_PATH=chromium_path,
        MAX_SESSIONS="4",
    )
