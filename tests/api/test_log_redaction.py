"""Issue 14, finding 6: a page token in the WebSocket query string never reaches the logs
(uvicorn's access and connection lines print the path)."""

from __future__ import annotations

import contextlib
import logging

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from support.app_server import RunningApp


async def test_tokens_in_query_strings_are_redacted_from_every_log_line(
    app: RunningApp, token_for: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = token_for("loc-a")  # type: ignore[operator]
    async with connect(f"{app.ws_url}/ws?token={token}") as ws:
        await ws.send('{"op": "ping"}')
        with contextlib.suppress(ConnectionClosed):
            await ws.recv()
    async with httpx.AsyncClient(base_url=app.url) as client:
        await client.get(f"/healthz?token={token}&x=1")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn")]
    assert any("[redacted]" in line for line in lines), lines
    assert not any(token in line for line in lines), [line for line in lines if token in line]
