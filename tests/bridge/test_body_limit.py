"""Issue 14, findings 3 and 9: a 300 MB body to the unauthenticated `/app/sso` or to the
settings route is refused while it streams, and the app process (its own OS process, RSS
measured) grows by far less than 100 MB. The body is sent in chunks, never allocated whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from bridge.conftest import process_app
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ghl_app.demo.fake_ghl import run_fake_ghl
from support.wa_fixture import FAST, StaticServer

CHUNK = b"x" * (1024 * 1024)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def _stream(megabytes: int) -> AsyncIterator[bytes]:
    for _ in range(megabytes):
        yield CHUNK


async def test_300_mb_bodies_are_refused_before_they_are_read(
    data_dir: Path, chromium_path: str, wa_fixture_server: StaticServer, tmp_path: Path
) -> None:
    async with run_fake_ghl() as fake:
        app, _, headers = await process_app(
            fake,
            data_dir=data_dir,
            chromium_path=chromium_path,
            wa_web_url=wa_fixture_server.url(**FAST),
            log_path=tmp_path / "serve.log",
        )
        try:
            await app.start()
            assert app.proc is not None
            before = _rss_mb(app.proc.pid)
            async with httpx.AsyncClient(base_url=app.url, headers=headers, timeout=60) as client:
                instance_id = (await client.post("/api/instances", json={"name": "M"})).json()["id"]
                for method, path in (
                    ("POST", "/app/sso"),
                    ("PATCH", f"/api/instances/{instance_id}/settings"),
                ):
                    # Chunked (no Content-Length): the cap must hold while the body streams.
                    try:
                        answer = await client.request(
                            method,
                            path,
                            content=_stream(300),
                            headers={"content-type": "application/json"},
                        )
                        assert answer.status_code == 413, answer.text
                        assert answer.json()["error"]["code"] == "body_too_large"
                    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
                        pass  # the server answered 413 and closed while we were still sending
                assert (await client.get("/healthz")).status_code == 200
            # Finding 9: a 15 MB WebSocket frame is refused by the server as it arrives (1009,
            # message too big), not buffered and then checked.
            token = headers["Authorization"].split(" ", 1)[1]
            ws_url = app.url.replace("http://", "ws://") + f"/ws?token={token}"
            async with connect(ws_url, max_size=None) as ws:
                await ws.send("x" * (15 * 2**20))
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), timeout=30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            grown = _rss_mb(app.proc.pid) - before
            assert grown < 100, f"the app grew by {grown:.0f} MB"
        finally:
            app.kill()


pytestmark = pytest.mark.browser
