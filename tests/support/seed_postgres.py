"""An installed location written to a PostgreSQL database by a process of its own.

Tortoise binds its SQL dialect once per process: a test process that already used SQLite would
send `?` placeholders to PostgreSQL. `python -m support.seed_postgres` reads a JSON line on
stdin: {database_url, location_id, company_id, access_token_enc, refresh_token_enc, scopes}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import Tortoise

from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.models import Location


async def seed(spec: dict[str, Any]) -> None:
    url = spec["database_url"]
    await apply_migrations(url)
    await Tortoise.init(config=tortoise_config(url))
    try:
        await Location.create(
            location_id=spec["location_id"],
            company_id=spec["company_id"],
            access_token_enc=spec["access_token_enc"],
            refresh_token_enc=spec["refresh_token_enc"],
            expires_at=datetime.now(UTC) + timedelta(hours=20),
            scopes=spec["scopes"],
            installed_at=datetime.now(UTC),
        )
    finally:
        await Tortoise.close_connections()


if __name__ == "__main__":
    asyncio.run(seed(json.loads(sys.stdin.readline())))
