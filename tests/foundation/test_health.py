"""`/healthz` over real HTTP, with the database really checked."""

from __future__ import annotations

from pathlib import Path

from ghl_app.settings import Settings
from support.app_server import run_app
from web.app import create_app


async def test_healthz_reports_ok_with_the_database_checked(settings: Settings) -> None:
    from ghl_app.db import apply_migrations

    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running, running.client() as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["needs_reinstall"] == {"locations": [], "companies": []}


async def test_healthz_is_503_when_the_database_is_gone(settings: Settings, data_dir: Path) -> None:
    from ghl_app.db import apply_migrations

    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running, running.client() as client:
        from tortoise import Tortoise

        await Tortoise.close_connections()
        (data_dir / "app.db").unlink()
        (data_dir).chmod(0o500)
        try:
            response = await client.get("/healthz")
        finally:
            data_dir.chmod(0o700)
    assert response.status_code == 503
    assert response.json()["status"] == "error"
