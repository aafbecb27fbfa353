"""The multi-process harness of issue 17 on its own: one `--role all` app process on a real
PostgreSQL and Redis, its engines on the phone hub's fixture page, the fake GHL over HTTP.

What the web/worker tests stand on: the QR the app shows (over the WebSocket) is scanned
through the hub, inbound messages sent through the hub reach the fake GHL exactly once and in
order, the hub counts one page for the device, and a killed node leaves no Chromium behind.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from bridge.conftest import COMPANY, LOCATION, OWN_PHONE, PUBLIC_PEM, seed_location
from websockets.asyncio.client import ClientConnection, connect

from ghl_app.demo.fake_ghl import FakeGhl, run_fake_ghl
from ghl_app.page_tokens import issue_token
from support import app_server
from support.cluster import Node, app_cluster
from support.phone_hub import GAP_SECONDS, PhoneHubServer, phone_hub

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

APP_SECRET = "test-secret-0123456789abcdef"
CHATS = ["5511977700001", "5511977700002"]


def shared_env(
    fake: FakeGhl, hub: PhoneHubServer, database_url: str, redis_url: str, chromium: str, root: Path
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PROFILE_STORE": f"file://{root / 'store'}",
        "APP_SECRET": APP_SECRET,
        "GHL_CLIENT_ID": "6650f0e1a2b3c4d5e6f70819-lx0abcd",
        "GHL_CLIENT_SECRET": "client-secret",
        "GHL_SHARED_SECRET": "shared-secret",
        "GHL_CONVERSATION_PROVIDER_ID": "provider-1",
        "GHL_API_URL": fake.url,
        "ATTACHMENT_ALLOWED_HOSTS": fake.url.split("//", 1)[1],
        "GHL_WEBHOOK_ED25519_KEY": PUBLIC_PEM,
        "WA_JS": "none",
        # The default QR timing (first QR for 60 s): the QR the app shows stays on the page
        # while the hub (400 ms reports) maps it to its page.
        "WA_WEB_URL": hub.wa_web_url(auto_ack=1),
        "CHROMIUM_PATH": chromium,
        "SEND_MIN_GAP_SECONDS": "0",
        "SEND_JITTER_SECONDS": "0",
        "SENDS_PER_MINUTE": "0",
        "LOG_LEVEL": "INFO",
    }


async def next_frame(ws: ClientConnection, kind: str, timeout: float = 30.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def wait_until(predicate: Any, timeout: float, what: str, node: Node) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}\n{node.log_tail()}") from None


def inbound(fake: FakeGhl) -> list[dict[str, Any]]:
    return [m for m in fake.messages.values() if m.get("altId")]


async def test_one_node_on_postgres_and_redis_links_through_the_hub_and_bridges_in_order(
    postgres_url: str, redis_url: str, chromium_path: str, tmp_path: Path
) -> None:
    with phone_hub() as hub:
        async with run_fake_ghl(rate_limit=(1000, 10.0)) as fake:
            env = shared_env(fake, hub, postgres_url, redis_url, chromium_path, tmp_path)
            await seed_location(app_server.test_settings(str(tmp_path / "seed"), **env), fake)
            token, _ = issue_token(
                APP_SECRET, location_id=LOCATION, user_id="u", company_id=COMPANY, role="admin"
            )
            async with app_cluster(env, tmp_path) as cluster:
                node = cluster.add("all-1")
                await cluster.start_all()
                await _link_and_bridge(node, hub, fake, token)
                chromium = node.chromium_pids()
                assert chromium, "the linked instance runs a Chromium on the node's profiles"
                _check_chromium_is_its_own_process_group(node, chromium)
                await _freeze_and_thaw(node, hub)
                node.kill()
                # Playwright's driver took the browser down with the killed Python process.
                assert node.chromium_pids() == set(), cluster.logs()
            assert cluster.leaked() == set()
            assert fake.messages, "the fake GHL saw the traffic"
    # Nothing of the node survived the harness's clean-up.
    assert not any(f"--user-data-dir={tmp_path}" in " ".join(_cmd(pid)) for pid in _pids())


async def _link_and_bridge(node: Node, hub: PhoneHubServer, fake: FakeGhl, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=node.url, headers=headers, timeout=30) as client:
        created = await client.post("/api/instances", json={"name": "Main"})
        assert created.status_code == 201, created.text
        instance_id = created.json()["id"]
        ws_url = f"ws://127.0.0.1:{node.port}/ws?token={token}"
        async with connect(ws_url) as ws:
            await ws.send(json.dumps({"op": "start", "instance_id": instance_id}))
            qr = (await next_frame(ws, "qr"))["qr"]
            page_id = await hub.scan_when_shown(qr["code"], OWN_PHONE)
            while (await next_frame(ws, "instance"))["instance"]["status"] != "connected":
                pass
        assert [p.page_id for p in await hub.wait_linked(OWN_PHONE)] == [page_id]

        sent: dict[str, list[str]] = defaultdict(list)
        for i in range(10):
            for chat in CHATS:
                body = f"{chat[-2:]}-{i:02d}"
                hub.deliver(OWN_PHONE, chat, body, name=f"Customer {chat[-2:]}")
                sent[chat[-2:]].append(body)
        await wait_until(lambda: len(inbound(fake)) >= 20, 45, "20 inbound posts", node)
        await asyncio.sleep(1.0)  # a duplicate would come now
        posted: dict[str, list[str]] = defaultdict(list)
        for message in inbound(fake):
            posted[message["message"][:2]].append(message["message"])
        assert dict(posted) == dict(sent)
        alt_ids = [m["altId"] for m in inbound(fake)]
        assert len(alt_ids) == len(set(alt_ids)) == 20
        state = (await client.get(f"/api/instances/{instance_id}")).json()
        assert state["status"] == "connected"
    assert hub.undelivered(OWN_PHONE) == 0
    assert len(hub.pages_of(OWN_PHONE)) == 1
    assert hub.max_concurrent(OWN_PHONE) == 1


async def _freeze_and_thaw(node: Node, hub: PhoneHubServer) -> None:
    """`stop` freezes the node's Chromium too: its page stops reporting, and after `cont` the
    hub records it alive again from its next report (a second interval, still one page)."""
    node.stop()
    try:
        await asyncio.sleep(GAP_SECONDS + 1.5)
        assert hub.pages_of(OWN_PHONE, alive_within=GAP_SECONDS) == []
    finally:
        node.cont()
    await hub.wait_linked(OWN_PHONE)
    [page] = hub.pages_of(OWN_PHONE)
    assert len(page.intervals) == 2
    assert hub.max_concurrent(OWN_PHONE) == 1


def _check_chromium_is_its_own_process_group(node: Node, chromium: set[int]) -> None:
    """What cluster.py's doc says: Playwright launches Chromium detached, in a process group
    (and session) of its own, not the node's."""
    assert node.pid is not None
    node_group = os.getpgid(node.pid)
    browser = min(chromium)  # the browser process starts before its children
    assert os.getpgid(browser) != node_group
    assert os.getpgid(browser) == browser


def _pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def _cmd(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
