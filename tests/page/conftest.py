"""The running app for page tests, framed by a stand-in GHL parent page in real Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from page.ghl_parent import GhlParent

from ghl_app.db import apply_migrations
from ghl_app.settings import Settings
from support.app_server import RunningApp, run_app
from support.app_server import test_settings as make_settings
from support.wa_fixture import FAST, StaticServer
from web.app import create_app


@pytest.fixture
async def page_app(settings: Settings) -> AsyncIterator[RunningApp]:
    """The real app over HTTP on a migrated SQLite file."""
    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running:
        yield running


@pytest.fixture
def ghl_parent() -> Iterator[GhlParent]:
    with GhlParent() as parent:
        yield parent


@pytest.fixture
def app_env() -> dict[str, str]:
    """Extra settings for `framed_app`; a test overrides it with `parametrize("app_env", ...)`."""
    return {}


@pytest.fixture
async def framed_settings(
    data_dir: Path,
    ghl_parent: GhlParent,
    wa_fixture_server: StaticServer,
    chromium_path: str,
    app_env: dict[str, str],
) -> Settings:
    """Settings as GHL would frame the app: the test parent's origin is a white-label frame
    ancestor, and WhatsApp Web is the fixture page (fast QR rotation, `window.WPP` built in);
    the database is migrated."""
    settings = make_settings(
        str(data_dir),
        FRAME_ANCESTORS=ghl_parent.origin,
        WA_WEB_URL=wa_fixture_server.url(**FAST),
        WA_JS="none",
        CHROMIUM_PATH=chromium_path,
        **app_env,
    )
    await apply_migrations(settings.database_url)
    return settings


@pytest.fixture
async def framed_app(framed_settings: Settings, ghl_parent: GhlParent) -> AsyncIterator[RunningApp]:
    async with run_app(create_app(framed_settings)) as running:
        ghl_parent.src = f"{running.url}/app"
        yield running
