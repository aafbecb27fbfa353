"""The page's WebSocket on the Redis event bus (issue 17, item 2): the app publishes its
engines' changes to Redis and its sockets hear them from there, and so hear what any other
process publishes for the instance."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sessions.helpers import fake_phone
from websockets.asyncio.client import ClientConnection, connect

from ghl_app.db import apply_migrations
from ghl_app.models import Location
from ghl_app.settings import Settings
from support.app_server import RunningApp, run_app
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PHONE = "5511999999999"

pytestmark = [pytest.mark.redis, pytest.mark.browser]

# Another process publishing one event on the bus, as a worker running the engine would.
_PUBLISH = """
import asyncio, json, sys
from ghl_app.bus.redis import RedisEventBus
async def main():
    bus = RedisEventBus(sys.argv[1])
    await bus.start()
    await bus.publish(sys.argv[2], json.loads(sys.argv[3]))
    await bus.close()
asyncio.run(main())
"""


@pytest.fixture
async def redis_app(settings: Settings, redis_url: str) -> AsyncIterator[RunningApp]:
    settings = dataclasses.replace(settings, redis_url=redis_url)
    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running:
        await Location.create(location_id="loc-a", installed_at=datetime.now(UTC))
        yield running


async def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def test_changes_reach_the_page_through_redis_from_this_process_and_others(
    redis_app: RunningApp, token_for: Any, auth: Any, redis_url: str
) -> None:
    async with redis_app.client() as client:
        created = await client.post("/api/instances", json={"name": "Sales"}, headers=auth("loc-a"))
    iid = created.json()["id"]
    async with connect(f"{redis_app.ws_url}/ws?token={token_for('loc-a')}") as ws:
        await ws.send(json.dumps({"op": "subscribe", "instance_id": iid}))
        assert (await _next(ws, "instance"))["instance"]["status"] == "stopped"
        await ws.send(json.dumps({"op": "start", "instance_id": iid}))
        await _next(ws, "qr")
        sessions = redis_app.app.state.services.sessions
        await fake_phone(sessions, uuid.UUID(iid)).scan(PHONE)
        while (await _next(ws, "instance"))["instance"]["status"] != "connected":
            pass

        event = {"type": "instance", "instance": {"id": iid, "status": "disconnected"}}
        published = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", _PUBLISH, redis_url, f"instance:{iid}", json.dumps(event)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert published.returncode == 0, published.stderr[-2000:]
        assert await _next(ws, "instance") == event
