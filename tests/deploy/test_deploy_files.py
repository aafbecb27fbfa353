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
