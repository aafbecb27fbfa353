"""render.yaml, the Dockerfile and the settings module must agree."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from starlette.routing import Route

from ghl_app.settings import ENV_NAMES, Settings
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
SERVICE = yaml.safe_load((ROOT / "render.yaml").read_text())["services"][0]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKER_ENV = dict(re.findall(r"^\s+([A-Z_]+)=(\S+?)\s*\\?$", DOCKERFILE, re.M))


def test_every_variable_the_blueprint_sets_is_read_by_the_app() -> None:
    keys = {var["key"] for var in SERVICE["envVars"]}
    assert keys <= set(ENV_NAMES)


def test_every_variable_the_image_sets_is_read_by_the_app() -> None:
    app_vars = set(DOCKER_ENV) - {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR"}
    assert app_vars and app_vars <= set(ENV_NAMES)


def test_health_check_path_is_a_route(settings: Settings) -> None:
    paths = {route.path for route in create_app(settings).routes if isinstance(route, Route)}
    assert SERVICE["healthCheckPath"] in paths
    assert "/healthz" in DOCKERFILE


def test_data_dir_is_on_the_persistent_disk() -> None:
    mount = SERVICE["disk"]["mountPath"]
    blueprint = {var["key"]: var.get("value") for var in SERVICE["envVars"]}
    assert blueprint["DATA_DIR"] == mount == DOCKER_ENV["DATA_DIR"]
    # wa-js is baked into the image: its cache must not sit under the mounted disk.
    assert not DOCKER_ENV["WA_JS_CACHE_DIR"].startswith(mount)


def test_secrets_are_generated_or_prompted_never_committed() -> None:
    by_key = {var["key"]: var for var in SERVICE["envVars"]}
    assert by_key["APP_SECRET"].get("generateValue") is True
    for key in ("GHL_CLIENT_ID", "GHL_CLIENT_SECRET", "GHL_SHARED_SECRET"):
        assert by_key[key].get("sync") is False and "value" not in by_key[key]


def test_image_installs_system_packages_with_the_ci_script_and_runs_as_non_root() -> None:
    assert "scripts/system-deps.sh" in DOCKERFILE
    assert "bash scripts/system-deps.sh" in (ROOT / "scripts" / "test.sh").read_text()
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert "fetch-wajs" in DOCKERFILE
    assert re.search(r'^CMD \["ghl-whatsapp", "serve"\]', DOCKERFILE, re.M)


COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_sets_only_settings_the_app_reads_and_wires_its_own_services() -> None:
    services = COMPOSE["services"]
    app = services["app"]
    assert set(app["environment"]) <= set(ENV_NAMES)
    env = app["environment"]
    # The URLs name the compose services, which start healthy before the app.
    assert "@postgres:5432/" in env["DATABASE_URL"] and env["DATABASE_URL"].startswith("postgres")
    assert env["REDIS_URL"].startswith("redis://redis:")
    for dependency, condition in app["depends_on"].items():
        assert condition == {"condition": "service_healthy"}
        assert "healthcheck" in services[dependency]
    # Both the data folder and the profile store are volumes the compose file declares.
    mounts = dict(volume.split(":", 1) for volume in app["volumes"])
    assert mounts["data"] == env["DATA_DIR"] == DOCKER_ENV["DATA_DIR"]
    assert env["PROFILE_STORE"] == f"file://{mounts['profiles']}"
    assert set(mounts) <= set(COMPOSE["volumes"])
    assert app["environment"]["PORT"] == DOCKER_ENV["PORT"]
    # The app is published on loopback only: a TLS proxy fronts it.
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])


def test_compose_settings_load(tmp_path: Path) -> None:
    """The values compose hands the app are ones load_settings accepts."""
    from ghl_app.settings import load_settings

    env = {k: str(v) for k, v in COMPOSE["services"]["app"]["environment"].items()}
    env["DATABASE_URL"] = env["DATABASE_URL"].replace(
        "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}", "secret"
    )
    env["DATA_DIR"] = str(tmp_path)
    settings = load_settings(env)
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.profile_store == "file:///var/profiles"
    assert settings.database_url == "postgres://ghl:secret@postgres:5432/ghl"
