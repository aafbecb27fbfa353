"""What a cluster test does as the sub-account's page: the shared settings of the nodes, an
installed location, the instance API and the page's WebSocket, against any node.

    env = cluster_env(fake=fake, hub=hub, database_url=postgres_url, redis_url=redis_url,
                      chromium_path=chromium_path, root=tmp_path)
    token = await seed_cluster_location(env, fake, tmp_path)
    page = PageClient(web1.url, token)
    iid = await page.create_instance("Sales")
    async with page.socket() as ws:
        await ws.start(iid)
        qr = await ws.next_qr(iid)
        await hub.scan_when_shown(qr["code"], phone_number(1))
        await ws.wait_status(iid, "connected")
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from bridge.conftest import COMPANY, LOCATION, PUBLIC_PEM
from websockets.asyncio.client import ClientConnection, connect

from ghl_app.crypto import TokenCipher
from ghl_app.demo.fake_ghl import FakeGhl, Grant
from ghl_app.page_tokens import issue_token
from ghl_app.sessions.profiles import ProfileSnapshots, open_store
from support.phone_hub import PhoneHubServer

APP_SECRET = "test-secret-0123456789abcdef"
METRICS_TOKEN = "metrics-token-0123456789"


def cluster_env(
    *,
    fake: FakeGhl,
    hub: PhoneHubServer,
    database_url: str,
    redis_url: str,
    chromium_path: str,
    root: Path,
    **extra: str,
) -> dict[str, str]:
    """The settings every node shares: one database, one Redis, one profile store, one secret,
    the fake GHL, and engines opening the phone hub's fixture page."""
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
        # The fixture's default QR timing (the first QR stays 60 s): the QR the app shows is
        # still on the page when the hub (reports every 400 ms) maps it to its page.
        "WA_WEB_URL": hub.wa_web_url(auto_ack=1),
        "CHROMIUM_PATH": chromium_path,
        "SEND_MIN_GAP_SECONDS": "0",
        "SEND_JITTER_SECONDS": "0",
        "SENDS_PER_MINUTE": "0",
        "LOG_LEVEL": "INFO",
        "METRICS_TOKEN": METRICS_TOKEN,
        **extra,
    }


async def seed_cluster_location(
    env: dict[str, str], fake: FakeGhl, root: Path, location_id: str = LOCATION
) -> str:
    """An installed location in the shared database (migrations applied), whose tokens the fake
    GHL accepts; returns an admin page token for it."""
    # The fake GHL issues the tokens here; a process of its own writes the row (Tortoise binds
    # one SQL dialect per process, and this one may have used SQLite: support/seed_postgres.py).
    body = fake.issue_tokens(Grant("Location", COMPANY, location_id))
    cipher = TokenCipher(env["APP_SECRET"])
    spec = {
        "database_url": env["DATABASE_URL"],
        "location_id": location_id,
        "company_id": COMPANY,
        "access_token_enc": cipher.encrypt(body["access_token"]),
        "refresh_token_enc": cipher.encrypt(body["refresh_token"]),
        "scopes": body.get("scope", ""),
    }
    tests = Path(__file__).resolve().parents[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "support.seed_postgres",
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": f"{tests.parent}:{tests}"},
    )
    _, errors = await process.communicate(json.dumps(spec).encode() + b"\n")
    if process.returncode != 0:
        raise RuntimeError(f"seeding the location failed: {errors.decode()[-2000:]}")
    token, _ = issue_token(
        APP_SECRET, location_id=location_id, user_id="u", company_id=COMPANY, role="admin"
    )
    return token


def phone_number(n: int) -> str:
    """The n-th test phone (one linked device per instance)."""
    return f"+55119{n:08d}"


def inbound_posts(fake: FakeGhl) -> list[dict[str, Any]]:
    """The inbound messages the fake GHL stored (those carry our altId), in arrival order."""
    return [m for m in fake.messages.values() if m.get("altId")]


def posted_by(fake: FakeGhl, key: Any) -> dict[Any, list[str]]:
    """The inbound texts grouped by `key(message)`, in arrival order."""
    grouped: dict[Any, list[str]] = defaultdict(list)
    for message in inbound_posts(fake):
        grouped[key(message)].append(message["message"])
    return dict(grouped)


class PageSocket:
    """The page's WebSocket (/ws) on one node: ops out, frames in."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []  # every frame received, in order

    async def send(self, op: str, instance_id: str) -> None:
        await self.ws.send(json.dumps({"op": op, "instance_id": instance_id}))

    async def start(self, instance_id: str) -> None:
        await self.send("start", instance_id)

    async def subscribe(self, instance_id: str) -> None:
        await self.send("subscribe", instance_id)

    async def next_frame(
        self, kind: str, instance_id: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """The next frame of this type (for this instance, when given)."""
        async with asyncio.timeout(timeout):
            while True:
                frame: dict[str, Any] = json.loads(await self.ws.recv())
                self.frames.append(frame)
                if frame.get("type") != kind:
                    continue
                if instance_id is None or _instance_of(frame) == instance_id:
                    return frame

    async def next_qr(self, instance_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The next QR shown for the instance: `{"code": ..., ...}` (code: wa-js fullCode)."""
        qr: dict[str, Any] = (await self.next_frame("qr", instance_id, timeout))["qr"]
        return qr

    async def wait_status(self, instance_id: str, status: str, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.next_frame("instance", instance_id, timeout)
                if frame["instance"]["status"] == status:
                    return


def _instance_of(frame: dict[str, Any]) -> str | None:
    if "instance_id" in frame:
        return str(frame["instance_id"])
    instance = frame.get("instance")
    return str(instance["id"]) if isinstance(instance, dict) and "id" in instance else None


class PageClient:
    """The sub-account's page against one node: the instance API and its WebSocket."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token

    def http(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)

    @asynccontextmanager
    async def socket(self) -> AsyncIterator[PageSocket]:
        ws_url = "ws" + self.base_url[len("http") :] + f"/ws?token={self.token}"
        async with connect(ws_url) as ws:
            yield PageSocket(ws)

    async def create_instance(self, name: str) -> str:
        async with self.http() as client:
            created = await client.post("/api/instances", json={"name": name})
        if created.status_code != 201:
            raise AssertionError(f"create {name}: {created.status_code} {created.text}")
        return str(created.json()["id"])

    async def instance(self, instance_id: str) -> dict[str, Any]:
        async with self.http() as client:
            answer = await client.get(f"/api/instances/{instance_id}")
        if answer.status_code != 200:
            raise AssertionError(f"get {instance_id}: {answer.status_code} {answer.text}")
        body: dict[str, Any] = answer.json()
        return body

    async def wait_status(self, instance_id: str, status: str, timeout: float = 60.0) -> None:
        """Poll the API until the instance has this status."""
        last = None
        try:
            async with asyncio.timeout(timeout):
                while (last := (await self.instance(instance_id))["status"]) != status:
                    await asyncio.sleep(0.2)
        except TimeoutError:
            raise AssertionError(f"{instance_id} stayed {last}, not {status}") from None

    async def link(
        self, instance_id: str, hub: PhoneHubServer, phone: str, timeout: float = 30.0
    ) -> str:
        """Start the instance over the WebSocket, scan the QR it shows through the hub and wait
        for `connected` (from the app, and the page linked at the hub); returns the hub's page
        id."""
        async with self.socket() as ws:
            await ws.start(instance_id)
            qr = await ws.next_qr(instance_id, timeout)
            page_id: str = await hub.scan_when_shown(qr["code"], phone)
            await ws.wait_status(instance_id, "connected", timeout)
        # The app may say connected before the page's next report reached the hub.
        await hub.wait_linked(phone, timeout)
        return page_id


async def link_all(
    page: PageClient,
    hub: PhoneHubServer,
    phones: dict[str, str],
    *,
    at_once: int = 4,
    timeout: float = 60.0,
) -> dict[str, str]:
    """`page.link` for every `{instance_id: phone}`, at most `at_once` at a time (each start
    launches a Chromium: the box has two cores); returns `{instance_id: hub page id}`."""
    gate = asyncio.Semaphore(at_once)

    async def one(instance_id: str, phone: str) -> tuple[str, str]:
        async with gate:
            return instance_id, await page.link(instance_id, hub, phone, timeout)

    pairs = await asyncio.gather(*(one(i, p) for i, p in phones.items()))
    return dict(pairs)


async def wait_login_snapshots(env: dict[str, str], ids: list[str], timeout: float = 120) -> None:
    """Until the profile store holds a snapshot with the login of each instance (Chromium
    writes Local Storage lazily: the first snapshots may not hold it yet)."""
    snapshots = ProfileSnapshots(open_store(env["PROFILE_STORE"]), APP_SECRET, 5)
    check = Path(tempfile.mkdtemp(prefix="snapshot-check-"))
    try:
        async with asyncio.timeout(timeout):
            for instance_id in ids:
                while True:
                    target = check / f"{instance_id}-{uuid.uuid4().hex[:6]}"
                    restored = await snapshots.restore(LOCATION, uuid.UUID(instance_id), target)
                    if restored and _holds_fixture_login(target):
                        break
                    await asyncio.sleep(1)
    finally:
        shutil.rmtree(check, ignore_errors=True)


def _holds_fixture_login(profile: Path) -> bool:
    """Local Storage's LevelDB keeps keys as plain bytes: the fixture's login key is there once
    Chromium has written it (fake-wpp.js, STATE_KEY)."""
    folder = profile / "Default" / "Local Storage" / "leveldb"
    files = folder.glob("*") if folder.is_dir() else []
    return any(b"fake-wa:linked" in f.read_bytes() for f in files if f.is_file())
