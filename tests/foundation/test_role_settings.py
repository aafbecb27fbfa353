"""`serve --role web|worker` (issue 17, item 1) refuses SQLite or a missing Redis with one
clear line and exit code 2, before anything starts; `all` stays the default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ghl_app.errors import ConfigError
from ghl_app.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("role", "extra"),
    [
        ("web", {}),  # SQLite, no Redis
        ("worker", {"REDIS_URL": "redis://127.0.0.1:1/0"}),  # Redis, but SQLite
        ("worker", {"DATABASE_URL": "postgres://u:p@127.0.0.1:1/db"}),  # Postgres, no Redis
    ],
)
def test_web_and_worker_refuse_without_postgres_and_redis(
    role: str, extra: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ROLE")}
    env.update({"DATA_DIR": str(tmp_path), "PORT": "8765", "PYTHONPATH": str(ROOT), **extra})
    result = subprocess.run(
        [sys.executable, "-c", "from ghl_app.cli import main; main()", "serve", "--role", role],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"ROLE={role} needs PostgreSQL" in lines[0] and "REDIS_URL" in lines[0]


def test_role_defaults_to_all_and_unknown_roles_are_refused(tmp_path: Path) -> None:
    assert load_settings({"DATA_DIR": str(tmp_path)}).role == "all"
    with pytest.raises(ConfigError, match="ROLE='leader' is unknown"):
        load_settings({"DATA_DIR": str(tmp_path), "ROLE": "leader"})
    both = {
        "DATA_DIR": str(tmp_path),
        "ROLE": "worker",
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    assert load_settings(both).role == "worker"
