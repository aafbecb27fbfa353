"""Database wiring: the Tortoise config, migrations, a health probe, and plain SQL for hot paths.

Hot paths (a claim, a message's per-sync statements) are written as SQL text: built through the
ORM each statement cost ~0.4-1 ms of CPU in query building and model loading, against ~0.1 ms
as text (measured on SQLite), which at hundreds of messages a second is most of the budget.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as migrate_api

from ghl_app.errors import ConfigError

MODELS_MODULE = "ghl_app.models"
# The tables of a scaled-out deployment (issue 17) live beside the product's own.
CLUSTER_MODELS_MODULE = "ghl_app.cluster.models"
MIGRATIONS_MODULE = "migrations"
APP_LABEL = "models"
# The key of the PostgreSQL advisory lock that makes migrations one process at a time: any
# 64-bit number no other user of the database takes; this one spells "ghlwamig".
MIGRATION_LOCK_KEY = 0x67686C77616D6967


def _connection_url(database_url: str) -> str:
    # SQLite runs in WAL mode (Tortoise's default); with synchronous=NORMAL a commit survives a
    # killed process and skips one disk flush per commit (2-3x the job throughput, measured by
    # bench/bench_jobs.py). Only a power loss could cost the last commits.
    if database_url.startswith("sqlite") and "synchronous=" not in database_url:
        joiner = "&" if "?" in database_url else "?"
        return f"{database_url}{joiner}synchronous=NORMAL"
    return database_url


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection_url(database_url)},
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE, CLUSTER_MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@asynccontextmanager
async def _one_migrator(database_url: str) -> AsyncIterator[None]:
    """On PostgreSQL, one process migrates at a time; the others wait, then find nothing pending.

    Without it, processes started together (a web and a worker service, replicas) each saw the
    same pending migrations and raced: of four started at once, two died on "type already
    exists" and "relation tortoise_migrations already exists" (issue 17). The lock is a session
    advisory lock on a connection of its own, so whatever Tortoise does on its connections, the
    lock is held until this block ends, and a killed process releases it with its connection.
    SQLite needs none: its migrations run under the database file's own write lock, and SQLite
    is single-process by design here.
    """
    settings = expand_db_url(database_url)
    if settings["engine"] != "tortoise.backends.asyncpg":
        yield
        return
    import asyncpg

    credentials = settings["credentials"]
    connection = await asyncpg.connect(
        host=credentials.get("host"),
        port=credentials.get("port"),
        user=credentials.get("user"),
        password=credentials.get("password"),
        database=credentials.get("database"),
        ssl=credentials.get("ssl"),
    )
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        yield
    finally:
        await connection.close()


async def apply_migrations(database_url: str) -> None:
    """Apply every pending migration, then close the connections it opened."""
    try:
        async with _one_migrator(database_url):
            await migrate_api(config=tortoise_config(database_url))
    except (OSError, ConnectionError) as exc:
        raise ConfigError(
            f"DATABASE_URL: cannot reach the database ({_describe(exc)}): check host, port and "
            "credentials"
        ) from None
    except Exception as exc:
        if type(exc).__module__.startswith(("asyncpg", "sqlite3", "tortoise")):
            raise ConfigError(
                f"DATABASE_URL: the database refused the migrations ({_describe(exc)})"
            ) from None
        raise
    finally:
        await Tortoise.close_connections()


async def ping() -> None:
    """A round trip to the database; raises when it does not answer."""
    await connections.get("default").execute_query("SELECT 1")


def connection() -> BaseDBAsyncClient:
    db: BaseDBAsyncClient = connections.get("default")
    return db


def placeholders(sql: str, dialect: str) -> str:
    """Tortoise hands SQL to the driver as is: SQLite takes `?`, asyncpg takes `$1, $2, ...`."""
    if dialect != "postgres":
        return sql
    pieces = sql.split("?")
    out = [pieces[0]]
    for number, piece in enumerate(pieces[1:], start=1):
        out.append(f"${number}{piece}")
    return "".join(out)


async def fetch(
    sql: str, values: Sequence[Any], db: BaseDBAsyncClient | None = None
) -> list[dict[str, Any]]:
    """Rows of a portable (`?` placeholders) statement, as dicts."""
    db = db or connection()
    return await db.execute_query_dict(placeholders(sql, db.capabilities.dialect), list(values))


async def execute(sql: str, values: Sequence[Any], db: BaseDBAsyncClient | None = None) -> int:
    """Run a portable (`?` placeholders) statement; the number of rows it changed."""
    db = db or connection()
    changed, _ = await db.execute_query(placeholders(sql, db.capabilities.dialect), list(values))
    return changed
