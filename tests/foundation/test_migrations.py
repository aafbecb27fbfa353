"""The same migrations build the same schema on an empty SQLite file and an empty PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError

from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.models import Direction, Instance, Location, Message, MessageStatus, Origin

TABLES = {
    "companies",
    "locations",
    "instances",
    "contacts",
    "messages",
    "jobs",
    "webhook_receipts",
}


async def _exercise_schema(url: str) -> set[str]:
    await apply_migrations(url)
    await apply_migrations(url)  # a second run has nothing pending and changes nothing
    await Tortoise.init(config=tortoise_config(url))
    try:
        conn = Tortoise.get_connection("default")
        if url.startswith("sqlite"):
            _, rows = await conn.execute_query("SELECT name FROM sqlite_master WHERE type='table'")
        else:
            _, rows = await conn.execute_query(
                "SELECT table_name AS name FROM information_schema.tables "
                "WHERE table_schema='public'"
            )
        tables = {row["name"] for row in rows}
        location = await Location.create(location_id=f"loc-{uuid.uuid4().hex[:6]}")
        instance = await Instance.create(location=location, name="Sales")
        with pytest.raises(IntegrityError):
            await Instance.create(location=location, name="Sales")
        fields = {
            "instance": instance,
            "location": location,
            "direction": Direction.INBOUND,
            "origin": Origin.WHATSAPP,
            "status": MessageStatus.RECEIVED,
        }
        await Message.create(wa_message_id="3EB0AA", **fields)
        with pytest.raises(IntegrityError):
            await Message.create(wa_message_id="3EB0AA", **fields)
        await Message.create(ghl_message_id="ghl-1", **fields)
        with pytest.raises(IntegrityError):
            await Message.create(ghl_message_id="ghl-1", **fields)
        return tables
    finally:
        await Tortoise.close_connections()


async def test_migrations_apply_to_an_empty_sqlite_file(tmp_path: Path) -> None:
    tables = await _exercise_schema(f"sqlite://{tmp_path / 'empty.db'}")
    assert tables >= TABLES


@pytest.mark.postgres
async def test_migrations_apply_to_an_empty_postgres_database(postgres_url: str) -> None:
    # In a process of its own: Tortoise binds the models' SQL dialect for the life of a
    # process, and this suite's other tests already bound it to SQLite (production runs one
    # database per process).
    probe = (
        "import asyncio, json, sys; from foundation.test_migrations import _exercise_schema; "
        "print(json.dumps(sorted(asyncio.run(_exercise_schema(sys.argv[1])))))"
    )
    root = Path(__file__).resolve().parents[2]
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", probe, postgres_url],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{root}:{root / 'tests'}"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(json.loads(result.stdout.strip().splitlines()[-1])) >= TABLES


def test_models_and_migrations_do_not_drift(tmp_path: Path) -> None:
    """`makemigrations` on the current models finds nothing to write."""
    from tortoise.migrations.autodetector import MigrationAutodetector

    config = tortoise_config(f"sqlite://{tmp_path / 'drift.db'}")

    async def changes() -> int:
        from tortoise.context import TortoiseContext

        async with TortoiseContext() as ctx:
            await ctx.init(config=config)
            assert ctx.apps is not None
            writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
            return len(writers)

    assert asyncio.run(changes()) == 0


@pytest.mark.postgres
async def test_processes_starting_together_apply_the_migrations_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """Issue 17, item 5: of four processes started at once on one empty Postgres, two died
    (a duplicate type name, then "relation tortoise_migrations already exists"). All four must
    succeed, and each migration is recorded once."""
    root = Path(__file__).resolve().parents[2]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GHL_", "DATABASE_"))},
        "DATABASE_URL": postgres_url,
        "PYTHONPATH": str(root),
    }
    command = [sys.executable, "-c", "from ghl_app.cli import main; main()", "migrate"]

    async def one(number: int) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            command,
            env={**env, "DATA_DIR": str(tmp_path / f"node{number}")},
            capture_output=True,
            text=True,
            timeout=120,
        )

    results = await asyncio.gather(*(one(n) for n in range(4)))
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
    probe = (
        "import asyncio, json, sys, asyncpg\n"
        "async def main():\n"
        "    c = await asyncpg.connect(sys.argv[1].replace('postgres://', 'postgresql://'))\n"
        "    rows = await c.fetch('SELECT name, count(*) AS n FROM tortoise_migrations '\n"
        "                         'GROUP BY name')\n"
        "    print(json.dumps(sorted([r['name'], r['n']] for r in rows)))\n"
        "asyncio.run(main())\n"
    )
    counted = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", probe, postgres_url], capture_output=True, text=True
    )
    assert counted.returncode == 0, counted.stderr[-2000:]
    recorded = json.loads(counted.stdout.strip())
    assert recorded and all(count == 1 for _, count in recorded), recorded
