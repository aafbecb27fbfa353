"""render-scale-out.yaml: web nodes and WhatsApp workers on Render Postgres and Key Value."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from deploy.conftest import sizing_rows

from ghl_app.settings import ENV_NAMES, load_settings

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "render-scale-out.yaml").read_text()
BLUEPRINT = yaml.safe_load(TEXT)
SERVICES = {service["name"]: service for service in BLUEPRINT["services"]}
GROUPS = {group["name"]: group["envVars"] for group in BLUEPRINT.get("envVarGroups", [])}
DATABASES = {database["name"]: database for database in BLUEPRINT["databases"]}

# Names a secret goes by; none of them may carry a committed `value`.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY|CLIENT_ID|PROVIDER_ID|PROFILE_STORE")


def _role(role: str) -> dict[str, Any]:
    """The one service whose command is `ghl-whatsapp serve --role <role>`."""
    command = ["ghl-whatsapp", "serve", "--role", role]
    found = [s for s in SERVICES.values() if shlex.split(s.get("dockerCommand", "")) == command]
    assert len(found) == 1, f"one service runs --role {role}"
    return found[0]


def _env(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A service's variables by key, its env groups' expanded (each entry keeps its source)."""
    env: dict[str, dict[str, Any]] = {}
    for var in service["envVars"]:
        if "fromGroup" in var:
            for grouped in GROUPS[var["fromGroup"]]:
                env[grouped["key"]] = {**grouped, "group": var["fromGroup"]}
        else:
            env[var["key"]] = var
    return env


WEB, WORKER = _role("web"), _role("worker")


def test_web_worker_postgres_and_key_value_each_have_their_part() -> None:
    assert WEB["type"] == "web" and WEB["healthCheckPath"] == "/healthz"
    # Render health-checks only web and private services, and only those have a private
    # address for /metrics (render.com/docs/health-checks): the worker is a pserv.
    assert WORKER["type"] == "pserv" and "healthCheckPath" not in WORKER
    assert {service["type"] for service in SERVICES.values()} == {"web", "pserv", "keyvalue"}
    for service in (WEB, WORKER):
        assert service["runtime"] == "docker" and service["dockerfilePath"] == "./Dockerfile"
        assert service.get("numInstances", 1) >= 2, "one instance of a role is no scale-out"
        # Render disks attach to a single instance: nothing may depend on one here.
        assert "disk" not in service
    key_value = next(s for s in SERVICES.values() if s["type"] == "keyvalue")
    assert key_value["ipAllowList"] == [] and key_value["maxmemoryPolicy"] == "noeviction"
    assert all(database["ipAllowList"] == [] for database in DATABASES.values())
    # The private network joins services of one region only.
    regions = {s.get("region") for s in SERVICES.values()} | {
        d.get("region") for d in DATABASES.values()
    }
    assert len(regions) == 1 and None not in regions


def test_web_and_worker_share_app_secret_postgres_and_key_value() -> None:
    web, worker = _env(WEB), _env(WORKER)
    for env in (web, worker):
        secret = env["APP_SECRET"]
        assert secret.get("group") and secret.get("generateValue") is True
        database = env["DATABASE_URL"]["fromDatabase"]
        assert database["name"] in DATABASES and database["property"] == "connectionString"
        redis = env["REDIS_URL"]["fromService"]
        assert SERVICES[redis["name"]]["type"] == redis["type"] == "keyvalue"
        assert redis["property"] == "connectionString"
        assert env["HOST"]["value"] == "0.0.0.0"
    # One group, one generated value: the same secret in every process.
    assert web["APP_SECRET"]["group"] == worker["APP_SECRET"]["group"]
    assert web["DATABASE_URL"] == worker["DATABASE_URL"]
    assert web["REDIS_URL"] == worker["REDIS_URL"]


def test_no_secret_is_committed_and_each_is_prompted_once() -> None:
    web, worker = _env(WEB), _env(WORKER)
    everything = [var for service in SERVICES.values() for var in service.get("envVars", [])]
    everything += [var for group in GROUPS.values() for var in group]
    for var in everything:
        if "value" in var:
            assert not SECRET_NAME.search(var["key"]), f"{var['key']} is committed"
            assert "@" not in str(var["value"]), f"{var['key']} holds credentials"
    for key in ("GHL_CLIENT_ID", "GHL_CLIENT_SECRET", "GHL_SHARED_SECRET", "PUBLIC_URL"):
        assert web[key] == {"key": key, "sync": False}
        # The worker copies what was pasted on the web service.
        assert worker[key]["fromService"] == {
            "type": "web",
            "name": WEB["name"],
            "envVarKey": key,
        }
    # The profile store is the worker's alone, and its credentials are prompted.
    for key in ("PROFILE_STORE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert worker[key] == {"key": key, "sync": False}
        assert key not in web


def test_every_variable_the_blueprint_sets_is_read_by_the_app() -> None:
    source = "\n".join(path.read_text() for path in (ROOT / "ghl_app").rglob("*.py"))
    # boto3 reads the AWS_* settings itself; ghl_app/sessions/profiles.py names the ones it uses.
    profiles = (ROOT / "ghl_app" / "sessions" / "profiles.py").read_text()
    for service in (WEB, WORKER):
        for key in _env(service):
            read = key in ENV_NAMES or f'"{key}"' in source
            assert read or (key.startswith("AWS_") and f"`{key}`" in profiles), key


def test_values_in_renders_formats_load(tmp_path: Path) -> None:
    """Render's internal Postgres URL may leave the port out ("Usually, the port can be left
    unspecified", render.com/docs/databases) and its Key Value URL is redis://red-…:6379
    (render.com/docs/redis): the app takes both."""
    env = {var["key"]: str(var["value"]) for var in _env(WORKER).values() if "value" in var}
    env |= {
        "DATA_DIR": str(tmp_path),
        "APP_SECRET": "G" * 44,  # generateValue: a base64 256-bit value
        "DATABASE_URL": "postgresql://ghl:secret@dpg-abc123-a/ghl",
        "REDIS_URL": "redis://red-abc123:6379",
        "PROFILE_STORE": "s3://ghl-whatsapp/profiles",
        "PUBLIC_URL": "https://ghl-whatsapp-web.onrender.com",
    }
    settings = load_settings(env)
    assert settings.database_url.startswith("postgres") and not settings.is_sqlite
    assert settings.redis_url == "redis://red-abc123:6379"
    assert settings.profile_store == "s3://ghl-whatsapp/profiles"
    assert settings.max_sessions == int(env["MAX_SESSIONS"])


def test_worker_sizing_follows_the_apps_max_sessions_formula(
    sessions_for: Callable[[int], int],
) -> None:
    rows = sizing_rows(TEXT)
    assert len(rows) >= 3, "the blueprint's comments size each worker plan"
    for plan, (mib, sessions) in rows.items():
        assert sessions == sessions_for(mib), f"{plan}: {mib} MiB holds {sessions_for(mib)}"
    # The worker's plan is in the table, and its cap is that row's, set explicitly.
    assert WORKER["plan"] in rows
    assert int(_env(WORKER)["MAX_SESSIONS"]["value"]) == rows[WORKER["plan"]][1]
    # The single-service blueprint's table follows the same formula.
    single = sizing_rows((ROOT / "render.yaml").read_text())
    assert single and all(s == sessions_for(mib) for mib, s in single.values())
