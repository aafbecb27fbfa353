"""On Postgres the refresh is single-flight across processes too: two token managers (two
processes' worth of asyncio locks) on one database still refresh an expired token once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import WebhookKeys, ghl_settings, seed_location
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.demo.fake_ghl import FakeGhl
from ghl_app.ghl.integration import GhlIntegration
from ghl_app.settings import Settings


@pytest.fixture
async def pg_settings(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys, postgres_url: str
) -> AsyncIterator[Settings]:
    settings = ghl_settings(data_dir, fake_ghl, webhook_keys, DATABASE_URL=postgres_url)
    # Tortoise caches compiled INSERTs per connection name, not per dialect: the SQLite ones of
    # earlier tests would be sent to Postgres (and the other way round after this test).
    EXECUTOR_CACHE.clear()
    await apply_migrations(settings.database_url)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        yield settings
    finally:
        await Tortoise.close_connections()
        EXECUTOR_CACHE.clear()


@pytest.mark.postgres
async def test_two_processes_refresh_an_expired_token_once_thanks_to_the_row_lock(
    pg_settings: Settings, fake_ghl: FakeGhl
) -> None:
    await seed_location(fake_ghl, pg_settings, expires_in=-60)
    first, second = GhlIntegration(pg_settings), GhlIntegration(pg_settings)
    try:
        results = await asyncio.gather(
            *(
                integration.client.find_contact_by_phone("loc-1", "+1")
                for integration in (first, second) * 10
            ),
            return_exceptions=True,
        )
    finally:
        await first.aclose()
        await second.aclose()
    assert [r for r in results if isinstance(r, BaseException)] == []
    refreshes = [
        c
        for c in fake_ghl.calls_to("/oauth/token")
        if (c.form or {}).get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 1
