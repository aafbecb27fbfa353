"""Readiness watchdog (issue 12, wa-js audit): a page where wa-js attached but WhatsApp Web never
got ready (no QR, no login; it happened after WhatsApp Web updates) must not sit in `starting`
or keep a stale `connected`: a linked number is restarted (twice, with backoff), then fails
with the reason.

The fixture page stands for a stuck WhatsApp Web with a boot delay longer than the test
(`ready_ms`): window.WPP exists, its loader never becomes ready."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sessions.helpers import ManagerMaker, fake_phone, new_instance, wait_status

from ghl_app.models import InstanceStatus as S
from ghl_app.sessions.manager import READY_RESTARTS
from support.app_server import test_settings as settings_for
from support.wa_fixture import FAST, StaticServer

PHONE = "5511999990001"


async def test_a_restored_number_whose_page_never_gets_ready_is_restarted_then_fails(
    caplog: pytest.LogCaptureFixture,
    make_manager: ManagerMaker,
    data_dir: Path,
    chromium_path: str,
    wa_fixture_server: StaticServer,
) -> None:
    first = make_manager()
    instance = await new_instance()
    result = await first.start(instance.id, location_id=instance.location_id)
    assert result.qr is not None
    await fake_phone(first, instance.id).scan(PHONE)
    await wait_status(instance.id, S.CONNECTED)
    await first.shutdown()

    stuck = settings_for(
        str(data_dir),
        WA_WEB_URL=wa_fixture_server.url(**{**FAST, "ready_ms": 600_000}),
        CHROMIUM_PATH=chromium_path,
        MAX_SESSIONS="4",
        WA_READY_TIMEOUT_SECONDS="2",
    )
    second = make_manager(stuck)
    caplog.set_level(logging.INFO, logger="ghl_app.sessions")
    second.restore()  # in the background, as at boot
    row = await wait_status(instance.id, S.DISCONNECTED, timeout=30)
    assert row.last_error and "not_ready" in row.last_error  # being restarted
    row = await wait_status(instance.id, S.FAILED, timeout=60)
    assert row.last_error and row.last_error.startswith("not_ready:")
    assert "WhatsApp Web may have changed" in row.last_error
    started = [r for r in caplog.records if r.getMessage() == "engine started"]
    assert len(started) == 1 + READY_RESTARTS  # the restore, then each restart
    assert second.engine_for(instance.id) is None  # no browser left running


async def test_a_new_number_whose_page_never_shows_a_qr_fails_instead_of_starting_forever(
    make_manager: ManagerMaker,
    data_dir: Path,
    chromium_path: str,
    wa_fixture_server: StaticServer,
) -> None:
    stuck = settings_for(
        str(data_dir),
        WA_WEB_URL=wa_fixture_server.url(**{**FAST, "ready_ms": 600_000}),
        CHROMIUM_PATH=chromium_path,
        MAX_SESSIONS="4",
        WA_READY_TIMEOUT_SECONDS="2",
    )
    manager = make_manager(stuck)
    instance = await new_instance()
    result = await manager.start(instance.id, location_id=instance.location_id)
    assert result.qr is None and result.instance.status is S.STARTING
    row = await wait_status(instance.id, S.FAILED, timeout=30)
    assert row.last_error and row.last_error.startswith("not_ready:")
