"""Fixtures shared by every test folder: settings on a temporary DATA_DIR, a migrated SQLite
file with the ORM initialised, the fake WhatsApp Web page and Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tortoise import Tortoise

from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.settings import Settings
from support.app_server import test_settings
from support.wa_fixture import (  # noqa: F401  (pytest finds fixtures by name here)
    browser,
    chromium_path,
    make_engine,
    wa_fixture_server,
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return test_settings(str(data_dir))


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[str]:
    """The real migrations applied to a fresh SQLite file, and the ORM initialised on it."""
    await apply_migrations(settings.database_url)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        yield settings.database_url
    finally:
        await Tortoise.close_connections()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis server of this test's own: pub/sub channels span a server's databases."""
    from support.redis_server import redis_server

    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    from support.postgres import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture
async def postgres_url(postgres_base_url: str) -> str:
    """A new empty database on the test PostgreSQL server."""
    import uuid

    from support.postgres import create_database

    return await create_database(postgres_base_url, f"t_{uuid.uuid4().hex[:12]}")
