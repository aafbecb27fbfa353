"""Render stops a service with SIGTERM: the app must exit within the grace period, lose no job,
and keep its browser profiles so the next boot restores the session without a QR."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import httpx
from bridge.conftest import link_over_devtools, process_app

from ghl_app.demo.fake_ghl import run_fake_ghl
from support.app_process import phone_of
from support.wa_fixture import FAST, StaticServer


def _jobs(db_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db_path, timeout=10) as conn:
        return [(str(k), str(s)) for k, s in conn.execute("SELECT kind, status FROM jobs")]


async def test_sigterm_with_a_session_and_a_running_job_exits_in_time_and_loses_nothing(
    data_dir: Path, chromium_path: str, wa_fixture_server: StaticServer, tmp_path: Path
) -> None:
    async with run_fake_ghl(rate_limit=(1000, 10.0), hang_seconds=60.0) as fake:
        log_path = tmp_path / "serve.log"
        app, settings, headers = await process_app(
            fake,
            data_dir=data_dir,
            chromium_path=chromium_path,
            wa_web_url=wa_fixture_server.url(**FAST),
            log_path=log_path,
        )
        try:
            await app.start()
            async with httpx.AsyncClient(base_url=app.url, headers=headers, timeout=30) as client:
                instance_id = (await client.post("/api/instances", json={"name": "M"})).json()["id"]
                await client.post(f"/api/instances/{instance_id}/start")
                profile = settings.profiles_dir / instance_id
                fake.inject("/conversations/messages/inbound", status=None)  # GHL hangs
                async with phone_of(profile) as phone:
                    await link_over_devtools(client, phone, instance_id)
                    await phone.deliver(**{"from": "5511977776666", "body": "in flight"})
                async with asyncio.timeout(20):  # the sync job is now waiting on GHL
                    while not fake.calls_to("/conversations/messages/inbound"):
                        await asyncio.sleep(0.1)
            assert ("wa_to_ghl", "running") in _jobs(data_dir / "app.db")

            first_run_log = log_path.read_text()
            began = time.monotonic()
            app.signal(signal.SIGTERM)
            await app.wait(30)
            took = time.monotonic() - began
            assert took < 25, f"shutdown took {took:.1f}s"
            # Released back to the queue, not lost and not half-done.
            assert ("wa_to_ghl", "queued") in _jobs(data_dir / "app.db")
            assert (profile / "Default").is_dir(), "the browser profile is kept"

            fake.clear_faults()
            (profile / "DevToolsActivePort").unlink(missing_ok=True)
            await app.start()
            async with asyncio.timeout(60):
                while not any(m.get("altId") for m in fake.messages.values()):
                    await asyncio.sleep(0.2)
            async with httpx.AsyncClient(base_url=app.url, headers=headers, timeout=30) as client:
                async with asyncio.timeout(20):
                    while (await client.get(f"/api/instances/{instance_id}")).json()[
                        "status"
                    ] != "connected":
                        await asyncio.sleep(0.1)
        finally:
            app.kill()
    second_run_log = log_path.read_text()[len(first_run_log) :]
    assert "status qr" in first_run_log  # the first link did show a QR ...
    assert "status qr" not in second_run_log  # ... the restored session did not
    posted = [m for m in fake.messages.values() if m.get("altId")]
    assert [m["message"] for m in posted] == ["in flight"]
