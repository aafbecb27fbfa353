"""The real app over real HTTP and WebSocket, with the default engines on the fake WhatsApp
Web page, two installed locations, and page tokens for each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ghl_app.db import apply_migrations
from ghl_app.models import Location
from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from support.app_server import RunningApp, run_app
from support.wa_fixture import StaticServer, engine_settings
from web.app import create_app


@pytest.fixture
def settings(data_dir: Path, chromium_path: str, wa_fixture_server: StaticServer) -> Settings:
    return engine_settings(data_dir, chromium_path, wa_fixture_server)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running:
        for location_id in ("loc-a", "loc-b"):
            await Location.create(location_id=location_id, installed_at=datetime.now(UTC))
        yield running


TokenMaker = Callable[..., str]


@pytest.fixture
def token_for(settings: Settings) -> TokenMaker:
    def make(location_id: str, ttl_s: int = 3600) -> str:
        token, _claims = issue_token(
            settings.app_secret,
            location_id=location_id,
            user_id=f"user-{location_id}",
            company_id="company-1",
            role="admin",
            ttl_s=ttl_s,
        )
        return token

    return make


@pytest.fixture
def auth(token_for: TokenMaker) -> Callable[[str], dict[str, str]]:
    return lambda location_id: {"Authorization": f"Bearer {token_for(location_id)}"}
