"""Durability: the server process is killed (SIGKILL) in the middle of a stream of inbound
messages and started again; every message still reaches GHL exactly once, in order per chat.

Run twice: GHL hanging before it stores the posts in flight, and GHL storing them and answering
too late (issue 13: "a kill -9 with 10 posts in flight gave 10 duplicates"); the restarted app
finds those in the conversation instead of posting them again."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from bridge.conftest import link_over_devtools, process_app

from ghl_app.demo.fake_ghl import run_fake_ghl
from support.app_process import phone_of
from support.wa_fixture import FAST, StaticServer

CHATS = [f"55119{n:08d}" for n in range(11, 16)]


def _stored(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=10) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


async def _wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("hang", ["before_storing", "after_storing"])
async def test_sigkill_mid_stream_then_restart_still_delivers_everything_exactly_once(
    hang: str,
    data_dir: Path,
    chromium_path: str,
    wa_fixture_server: StaticServer,
    tmp_path: Path,
) -> None:
    async with run_fake_ghl(rate_limit=(1000, 10.0), hang_seconds=60.0) as fake:
        app, settings, headers = await process_app(
            fake,
            data_dir=data_dir,
            chromium_path=chromium_path,
            wa_web_url=wa_fixture_server.url(**FAST),
            log_path=tmp_path / "serve.log",
            JOB_LEASE_SECONDS="3",
        )
        try:
            await app.start()
            async with httpx.AsyncClient(base_url=app.url, headers=headers, timeout=30) as client:
                instance_id = (await client.post("/api/instances", json={"name": "M"})).json()["id"]
                await client.post(f"/api/instances/{instance_id}/start")
                profile = settings.profiles_dir / instance_id
                # Every inbound post hangs: at the kill, messages are stored, jobs in flight.
                if hang == "before_storing":
                    fake.inject("/conversations/messages/inbound", status=None)
                else:
                    fake.inbound_quirks = ["store_then_hang"] * 1000
                sent: list[tuple[str, str]] = []
                async with phone_of(profile) as phone:
                    await link_over_devtools(client, phone, instance_id)
                    for i in range(20):
                        for chat in CHATS:
                            body = f"{chat[-2:]}-{i:03d}"
                            await phone.deliver(**{"from": chat, "body": body})
                            sent.append((chat, body))
                    await _wait(lambda: _stored(data_dir / "app.db") >= len(sent), 60)
            app.signal(signal.SIGKILL)
            await app.wait(10)
            in_flight = len([m for m in fake.messages.values() if m.get("altId")])
            fake.clear_faults()
            fake.inbound_quirks = []
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
    if hang == "after_storing":
        assert in_flight > 0, "GHL held posts whose answers the kill lost"
    alt_ids = [m["altId"] for m in fake.messages.values() if m.get("altId")]
    assert len(alt_ids) == len(set(alt_ids)) == len(sent)
