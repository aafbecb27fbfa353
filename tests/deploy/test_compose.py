"""docker-compose.yml: the web and worker roles on one image, PostgreSQL, Redis, shared volumes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from compose_spec import PyCompose
from deploy.conftest import memory_mib

from ghl_app.settings import ENV_NAMES, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
WEB, WORKER = SERVICES["web"], SERVICES["worker"]
DOCKER_ENV = dict(
    re.findall(r"^\s+([A-Z_]+)=(\S+?)\s*\\?$", (ROOT / "Dockerfile").read_text(), re.M)
)
# Compose's `${NAME:?message}` and `${NAME:-default}` (compose-spec, "Interpolation").
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[?-])(?P<arg>[^}]*))?\}")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY|CLIENT_ID")


def _interpolate(value: str, dotenv: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in dotenv:
            return dotenv[name]
        assert op == "-", f"${{{name}}} has no value and no default"
        return str(arg)

    return INTERPOLATION.sub(one, value)


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> named volume, or "" for an anonymous one."""
    mounts = {}
    for volume in service["volumes"]:
        source, _, target = volume.rpartition(":")
        mounts[target or source] = source if target else ""
    return mounts


def test_compose_file_follows_the_compose_specification() -> None:
    """A strict parser of the Compose Specification refuses unknown keys (a typo compose would
    reject at `up`), bad ports, durations, memory units and depends_on conditions. YAML's
    anchors and merge keys are resolved first, as compose does."""
    compose = PyCompose.from_json(json.dumps(COMPOSE))
    compose.validate()
    assert compose.service_names() == ["web", "worker", "postgres", "redis"]
    typo = {**COMPOSE, "services": {**SERVICES, "worker": {**WORKER, "shm_sise": "1gb"}}}
    try:
        PyCompose.from_json(json.dumps(typo))
    except ValueError as refused:
        assert "shm_sise" in str(refused)
    else:
        raise AssertionError("the parser took an unknown key: it checks nothing")


def test_each_role_runs_from_the_same_image_and_only_web_is_published() -> None:
    assert WEB["command"] == ["ghl-whatsapp", "serve", "--role", "web"]
    assert WORKER["command"] == ["ghl-whatsapp", "serve", "--role", "worker"]
    assert "app" not in SERVICES, "one process for everything is the Render single service"
    assert WEB["build"] == WORKER["build"] == "."
    # Published on loopback only: a TLS proxy fronts it.
    assert WEB["ports"] and all(port.startswith("127.0.0.1:") for port in WEB["ports"])
    # `--scale worker=3` needs replicas without a fixed host port or name.
    assert "ports" not in WORKER and "container_name" not in WORKER
    for service in (WEB, WORKER):
        for dependency, condition in service["depends_on"].items():
            assert condition == {"condition": "service_healthy"}
            assert "healthcheck" in SERVICES[dependency]


def test_every_process_shares_secret_database_redis_and_profile_store() -> None:
    web, worker = WEB["environment"], WORKER["environment"]
    for key in ("APP_SECRET", "DATABASE_URL", "REDIS_URL", "PROFILE_STORE"):
        assert web[key] == worker[key], key
    # The URLs name the compose services, which start healthy before the app.
    assert "@postgres:5432/" in web["DATABASE_URL"] and web["DATABASE_URL"].startswith("postgres")
    assert web["REDIS_URL"].startswith("redis://redis:")
    # The profile store is one volume every process mounts at the same place.
    store = web["PROFILE_STORE"].removeprefix("file://")
    assert web["PROFILE_STORE"] == f"file://{store}"
    assert _mounts(WEB)[store] == _mounts(WORKER)[store] == "profiles"
    # Media: written by the worker that bridged a file, served by web's /media/ links.
    media = f"{web['DATA_DIR']}/media"
    assert _mounts(WEB)[media] == _mounts(WORKER)[media] != ""
    # web keeps its data folder; each worker replica gets its own (anonymous) one.
    assert _mounts(WEB)[web["DATA_DIR"]] == "data" and web["DATA_DIR"] == DOCKER_ENV["DATA_DIR"]
    assert _mounts(WORKER)[worker["DATA_DIR"]] == ""
    named = {v for s in (WEB, WORKER) for v in _mounts(s).values() if v}
    assert named <= set(COMPOSE["volumes"])
    assert web["PORT"] == worker["PORT"] == DOCKER_ENV["PORT"]


def test_no_secret_is_committed() -> None:
    for name, service in SERVICES.items():
        for key, value in service.get("environment", {}).items():
            value = str(value)
            if SECRET_NAME.search(key):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must come from .env"
            for user_password in re.findall(r"//([^@/]*)@", value):
                assert "${" in user_password, f"{name}: {key} holds a password"
    # APP_SECRET must be set: without it each process would generate its own, and one could not
    # read what another encrypted.
    assert INTERPOLATION.fullmatch(WEB["environment"]["APP_SECRET"])["op"] == "?"  # type: ignore[index]


def test_compose_settings_load(tmp_path: Path) -> None:
    """The values compose hands each role are ones load_settings accepts."""
    dotenv = {"APP_SECRET": "x" * 44, "POSTGRES_PASSWORD": "secret"}
    for service in (WEB, WORKER):
        env = {k: _interpolate(str(v), dotenv) for k, v in service["environment"].items()}
        assert set(env) <= set(ENV_NAMES)
        env["DATA_DIR"] = str(tmp_path)
        settings = load_settings(env)
        assert settings.app_secret == "x" * 44
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.profile_store == "file:///var/profiles"
        assert settings.database_url == "postgres://ghl:secret@postgres:5432/ghl"


def test_worker_memory_limit_and_max_sessions_follow_the_apps_formula(
    sessions_for: Callable[[int], int],
) -> None:
    limit = memory_mib(WORKER["deploy"]["resources"]["limits"]["memory"])
    assert int(WORKER["environment"]["MAX_SESSIONS"]) == sessions_for(limit)
    # Chromium needs more shared memory than Docker's 64 MB default for several pages.
    assert WORKER["shm_size"] == "1gb"
