"""`/openapi.json` is true (issue 18): every real route is in it and nothing else, the
integrator API's real answers validate against it, and schemathesis fuzzes the integrator API
from it (no 5xx, every answer as documented). All traffic goes to the app on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from starlette.routing import Route, WebSocketRoute

from ghl_app.db import apply_migrations
from ghl_app.integrations.keys import create_key
from ghl_app.models import EventDelivery, Instance, Location
from ghl_app.settings import Settings
from support.app_server import RunningApp, run_app
from support.app_server import test_settings as make_settings
from web.app import create_app


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(str(data_dir))


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running:
        await Location.create(
            location_id="loc-a", company_id="company-1", installed_at=datetime.now(UTC)
        )
        yield running


async def _document(app: RunningApp) -> dict[str, Any]:
    async with app.client() as client:
        answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


async def test_every_real_route_is_documented_and_every_documented_route_is_real(
    app: RunningApp,
) -> None:
    document = await _document(app)
    assert document["openapi"].startswith("3.1")
    real = {
        (route.path, method.lower())
        for route in app.app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert real == documented
    sockets = {route.path for route in app.app.routes if isinstance(route, WebSocketRoute)}
    assert sockets == set(document["x-websockets"])


def _validator(document: dict[str, Any], path: str, method: str, status: int) -> Any:
    schema = document["paths"][path][method]["responses"][str(status)]["content"][
        "application/json"
    ]["schema"]
    resolver_root = {**schema, "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(resolver_root)


async def test_the_integrator_apis_real_answers_match_the_document(app: RunningApp) -> None:
    document = await _document(app)
    number = await Instance.create(location_id="loc-a", name="Sales")
    _row, key = await create_key("loc-a", "crm", created_by=None)
    headers = {"Authorization": f"Bearer {key}"}

    async def check(method: str, path: str, template: str, status: int, **kwargs: Any) -> Any:
        async with app.client() as client:
            answer = await client.request(method, path, headers=headers, **kwargs)
        assert answer.status_code == status, answer.text
        _validator(document, template, method.lower(), status).validate(answer.json())
        return answer.json()

    await check("GET", "/api/v1/numbers", "/api/v1/numbers", 200)
    sent = await check(
        "POST",
        f"/api/v1/numbers/{number.id}/messages",
        "/api/v1/numbers/{id}/messages",
        202,
        json={"to": "+55 11 98765-4321", "text": "hello"},
    )
    await check("GET", f"/api/v1/messages/{sent['message']['id']}", "/api/v1/messages/{id}", 200)
    await check("GET", "/api/v1/messages/999", "/api/v1/messages/{id}", 404)
    made = await check(
        "POST",
        "/api/v1/webhooks",
        "/api/v1/webhooks",
        201,
        json={"url": "http://127.0.0.1:9/hook", "events": ["message.status"]},
    )
    await check("GET", "/api/v1/webhooks", "/api/v1/webhooks", 200)
    await check("DELETE", f"/api/v1/webhooks/{made['webhook']['id']}", "/api/v1/webhooks/{id}", 200)
    await check("POST", "/api/v1/webhooks", "/api/v1/webhooks", 400, json={"url": "ftp://x"})


async def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_document(
    app: RunningApp, tmp_path: Path
) -> None:
    # No number exists: a generated send answers 404 and fetches nothing; webhooks it
    # registers are stored, and no event happens that would deliver to them (checked below).
    _row, key = await create_key("loc-a", "fuzz", created_by=None)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{app.url}/openapi.json",
        "--include-tag",
        "integrators",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--max-examples",
        "25",
        "--workers",
        "1",
        "--seed",
        "18",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # its report folder
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    assert await EventDelivery.all().count() == 0
