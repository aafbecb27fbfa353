"""Durability: the server process is killed (SIGKILL) in the middle of a stream of inbound
messages and started again; every message still reaches GHL exactly once, in order per chat."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections import defaultdict
from pathlib import Path

import httpx
from bridge.conftest import COMPANY, LOCATION, OWN_PHONE, PUBLIC_PEM, seed_location

from ghl_app.page_tokens import issue_token
from support.app_process import AppProcess, phone_of
from support.app_server import test_settings as make_settings
from support.fake_ghl import run_fake_ghl
from support.wa_fixture import FAST, StaticServer

CHATS = [f"55119{n:08d}" for n in range(11, 16)]


def _stored(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=10) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


async def _wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.2)


async def test_sigkill_mid_stream_then_restart_still_delivers_everything_exactly_once(
    data_dir: Path, chromium_path: str, wa_fixture_server: StaticServer, tmp_path: Path
) -> None:
    async with run_fake_ghl(rate_limit=(1000, 10.0), hang_seconds=60.0) as fake:
        env = {
            "DATA_DIR": str(data_dir),
            "APP_SECRET": "test-secret-0123456789abcdef",
            "GHL_CLIENT_ID": "6650f0e1a2b3c4d5e6f70819-lx0abcd",
            "GHL_CLIENT_SECRET": "client-secret",
            "GHL_SHARED_SECRET": "shared-secret",
            "GHL_CONVERSATION_PROVIDER_ID": "provider-1",
            "GHL_API_URL": fake.url,
            "GHL_WEBHOOK_ED25519_KEY": PUBLIC_PEM,
            "WA_JS": "none",
            "WA_WEB_URL": wa_fixture_server.url(**FAST),
            "CHROMIUM_PATH": chromium_path,
            "JOB_LEASE_SECONDS": "3",
        }
        settings = make_settings(str(data_dir), **env)
        await seed_location(settings, fake)
        token, _ = issue_token(
            settings.app_secret, location_id=LOCATION, user_id="u", company_id=COMPANY, role="admin"
        )
        headers = {"Authorization": f"Bearer {token}"}
        app = AppProcess(env, tmp_path / "serve.log")
        try:
            await app.start()
            async with httpx.AsyncClient(base_url=app.url, headers=headers, timeout=30) as client:
                instance_id = (await client.post("/api/instances", json={"name": "M"})).json()["id"]
                await client.post(f"/api/instances/{instance_id}/start")
                profile = settings.profiles_dir / instance_id
                # Every inbound post hangs: at the kill, messages are stored, jobs in flight.
                fake.inject("/conversations/messages/inbound", status=None)
                sent: list[tuple[str, str]] = []
                async with phone_of(profile) as phone:
                    await phone.scan(OWN_PHONE)
                    async with asyncio.timeout(20):
                        while (await client.get(f"/api/instances/{instance_id}")).json()[
                            "status"
                        ] != "connected":
                            await asyncio.sleep(0.1)
                    for i in range(20):
                        for chat in CHATS:
                            body = f"{chat[-2:]}-{i:03d}"
                            await phone.deliver(**{"from": chat, "body": body})
                            sent.append((chat, body))
                    await _wait(lambda: _stored(data_dir / "app.db") >= len(sent), 60)
            app.signal(signal.SIGKILL)
            await app.wait(10)
            fake.clear_faults()
            (profile / "DevToolsActivePort").unlink(missing_ok=True)
            await app.start()
            await _wait(
                lambda: len([m for m in fake.messages.values() if m.get("altId")]) >= 100, 120
            )
            await asyncio.sleep(1.0)
        finally:
            app.kill()
    posted: dict[str, list[str]] = defaultdict(list)
    for message in fake.messages.values():
        if message.get("altId"):
            posted[message["message"][:2]].append(message["message"])
    expected: dict[str, list[str]] = defaultdict(list)
    for chat, body in sent:
        expected[chat[-2:]].append(body)
    assert dict(posted) == dict(expected)
    alt_ids = [m["altId"] for m in fake.messages.values() if m.get("altId")]
    assert len(alt_ids) == len(set(alt_ids)) == len(sent)
