"""The app as its own OS process (`ghl-whatsapp serve`), for the tests that kill it.

The fake phone is reached through Chromium's DevTools port: the app is started with
`CHROMIUM_ARGS=--remote-debugging-port=0`, and Chromium writes the port it chose into the
profile folder (`DevToolsActivePort`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from playwright.async_api import Browser, async_playwright

from support.app_server import free_port
from support.wa_fixture import FakeWhatsApp

SERVE = [sys.executable, "-c", "from ghl_app.cli import main; main()", "serve"]


class AppProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.env["CHROMIUM_ARGS"] = "--remote-debugging-port=0"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(SERVE, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"app exited: {self.log_path.read_text()[-3000:]}")
                try:
                    if (await client.get(f"{self.url}/healthz", timeout=2)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("app did not answer /healthz")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return await asyncio.to_thread(self.proc.wait, timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@asynccontextmanager
async def phone_of(profile_dir: Path) -> AsyncIterator[FakeWhatsApp]:
    """The fake phone of the engine running on `profile_dir`, over the DevTools protocol."""
    port_file = profile_dir / "DevToolsActivePort"
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the engine's Chromium wrote no DevToolsActivePort")
        await asyncio.sleep(0.1)
    port = port_file.read_text().split()[0]
    async with async_playwright() as playwright:
        browser: Browser = await playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
        try:
            pages = [p for context in browser.contexts for p in context.pages]
            page = next(p for p in pages if not p.url.startswith("about:"))
            yield FakeWhatsApp(page)
        finally:
            # Disconnect only: closing a CDP-connected browser would close the app's Chromium.
            await browser.close()
