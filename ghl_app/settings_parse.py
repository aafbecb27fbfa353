"""How a setting's text becomes a value: strict readers that raise `ConfigError` with one line
naming the setting and the fix (ghl_app/settings.py assembles `Settings` from them)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ghl_app.errors import ConfigError

PROVIDER_MODES = ("extra", "default")


def read(env: dict[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def read_url(env: dict[str, str], name: str, default: str) -> str:
    value = read(env, name) or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{name}={value!r} is not an http(s) URL: set it like https://example.com"
        )
    return value.rstrip("/")


def read_int(env: dict[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = read(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a whole number: set it to e.g. {default}"
        ) from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: use a number from {low} to {high}")
    return value


def read_bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = read(env, name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value: use true or false")


def read_float(env: dict[str, str], name: str, default: float, *, low: float) -> float:
    raw = read(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number: set it to e.g. {default}") from None
    if value < low:
        raise ConfigError(f"{name}={value} is too small: use at least {low}")
    return value


def database_url(env: dict[str, str], data_dir: Path) -> str:
    value = read(env, "DATABASE_URL") or f"sqlite://{data_dir / 'app.db'}"
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme == "postgresql":
        # Render and most hosts hand out postgresql://; Tortoise wants postgres://.
        value = "postgres://" + value.split("://", 1)[1]
        scheme = "postgres"
    if scheme not in ("sqlite", "postgres", "asyncpg"):
        raise ConfigError(
            f"DATABASE_URL={value!r} is not supported: use sqlite:///path/app.db or "
            "postgres://user:password@host:5432/db"
        )
    if scheme == "sqlite" and value[len("sqlite://") :] in ("", ":memory:"):
        raise ConfigError("DATABASE_URL must name a SQLite file, e.g. sqlite://./data/app.db")
    return value


def redis_url(env: dict[str, str]) -> str | None:
    value = read(env, "REDIS_URL")
    if not value:
        return None
    if value.split("://", 1)[0] not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL={value.split('@')[-1]!r} is not supported: use redis://host:6379/0 "
            "(rediss:// for TLS)"
        )
    return value


def profile_store(env: dict[str, str]) -> str | None:
    value = read(env, "PROFILE_STORE")
    if not value:
        return None
    if not (value.startswith("file:///") or (value.startswith("s3://") and len(value) > 5)):
        raise ConfigError(
            f"PROFILE_STORE={value!r} is not supported: use file:///path/to/folder or "
            "s3://bucket/prefix"
        )
    return value


def log_format(env: dict[str, str]) -> str:
    value = (read(env, "LOG_FORMAT") or "text").lower()
    if value not in ("text", "json"):
        raise ConfigError(f"LOG_FORMAT={value!r} is unknown: use text or json")
    return value


def provider_mode(env: dict[str, str]) -> str:
    mode = (read(env, "GHL_PROVIDER_MODE") or "extra").lower()
    if mode not in PROVIDER_MODES:
        raise ConfigError(f"GHL_PROVIDER_MODE={mode!r} is unknown: use extra or default")
    return mode


def role(env: dict[str, str], database: str, redis: str | None) -> str:
    """ROLE (issue 17): all, web or worker. The roles share state and jobs through PostgreSQL
    and events through Redis, so web and worker refuse to start without them."""
    value = (read(env, "ROLE") or "all").lower()
    if value not in ("all", "web", "worker"):
        raise ConfigError(f"ROLE={value!r} is unknown: use all, web or worker")
    if value != "all" and (database.startswith("sqlite") or not redis):
        raise ConfigError(
            f"ROLE={value} needs PostgreSQL (DATABASE_URL=postgres://...) and Redis (REDIS_URL): "
            "the roles share state through them; one process on SQLite is ROLE=all"
        )
    return value
