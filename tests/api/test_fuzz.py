"""Malformed input of every kind on every route and WebSocket op: a 4xx with a code, never a
5xx (issue 14, Low 8-9). The routes come from the app itself, so a new route is fuzzed too.
Everything goes to the app on 127.0.0.1; nothing it is fed points anywhere else."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ghl_app.db import apply_migrations
from ghl_app.integrations.keys import create_key
from ghl_app.models import Instance, Location
from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from support.app_server import RunningApp, run_app
from support.app_server import test_settings as make_settings
from web.app import create_app

DEEP = b"[" * 200_000  # under the 1 MiB body cap, far past the JSON parser's recursion limit
BODIES: list[bytes] = [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    DEEP,
    b'{"a":' * 50_000,
    b"null",
    b"[]",
    b'"text"',
    b"1e999",
    b'{"name": "Sales\\ud800", "text": "\\udfff", "instance_id": "\\ud800"}',
    b'{"limit": 1e999, "id": NaN, "timestamp": Infinity}',
    json.dumps(
        {
            "name": [],
            "phone": {},
            "text": 5,
            "message": ["x"],
            "is_default": "yes",
            "limit": 10**40,
            "payload": [],
            "location_id": 5,
            "locationId": {"$ne": 1},
            "url": 7,
            "events": "x",
            "contactId": 10**40,
            "attachments": "x" * 5000,
            "data": "x",
            "extras": [],
            "meta": 1,
            "timestamp": -(10**30),
            "webhookId": "²" * 300,
            "type": None,
            "grace_seconds": "x",
            "number_id": ["x"],
        }
    ).encode(),
]
PATH_VALUES = ["²", "9" * 400, "0", "-1", "%ED%A0%80", "%00", "%F0%9F%98%80", "a%2Fb", "x" * 5000]
QUERIES = [
    "",
    "?limit=999999999999999999999999",
    "?limit=-1&status=%C2%B2",
    "?limit=NaN&token=%C3%A9.x",
]


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return make_settings(
        str(data_dir), METRICS_TOKEN="metrics-token", GHL_WORKFLOW_TOKEN="workflow-token"
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running:
        await Location.create(
            location_id="loc-a", company_id="company-1", installed_at=datetime.now(UTC)
        )
        yield running


async def _auth_headers(settings: Settings) -> dict[str, dict[str, str]]:
    page, _ = issue_token(
        settings.app_secret, location_id="loc-a", user_id="u", company_id="company-1", role="admin"
    )
    agency, _ = issue_token(
        settings.app_secret,
        location_id="",
        user_id="u",
        company_id="company-1",
        role="admin",
        scope="agency",
    )
    _row, key = await create_key("loc-a", "fuzz", created_by=None)
    return {
        "none": {},
        "page": {"Authorization": f"Bearer {page}"},
        "agency": {"Authorization": f"Bearer {agency}"},
        "key": {"Authorization": f"Bearer {key}"},
        "workflow": {"Authorization": "Bearer workflow-token"},
        "metrics": {"Authorization": "Bearer metrics-token"},
    }


def _paths(template: str, real_id: str) -> list[str]:
    if "{" not in template:
        return [template]
    values = [*PATH_VALUES, real_id]
    return [re.sub(r"\{[^}]+\}", value, template) for value in values]


async def test_no_route_answers_malformed_input_with_a_5xx(
    app: RunningApp, settings: Settings
) -> None:
    headers_by_auth = await _auth_headers(settings)
    instance = await Instance.create(location_id="loc-a", name="Sales")
    failures: list[str] = []
    count = 0
    routes = [r for r in app.app.routes if isinstance(r, Route)]
    assert len(routes) > 25
    async with app.client() as client:
        for route in routes:
            for method in sorted(route.methods or {"GET"}):
                if method == "HEAD":
                    continue
                if route.path.endswith("/start"):
                    continue  # would start Chromium; its body parsing is the shared helper's
                for path in _paths(route.path, str(instance.id)):
                    real = "{" not in route.path or path.endswith(str(instance.id))
                    for auth, headers in headers_by_auth.items():
                        if method in ("POST", "PATCH", "PUT"):
                            # Every body on the real id; one wrong body on each odd id.
                            cases = [("", body) for body in (BODIES if real else BODIES[-1:])]
                        else:
                            cases = [(query, b"") for query in QUERIES]
                        for query, body in cases:
                            count += 1
                            answer = await client.request(
                                method,
                                path + query,
                                content=body,
                                headers={**headers, "content-type": "application/json"},
                            )
                            if answer.status_code >= 500 and answer.status_code != 503:
                                failures.append(
                                    f"{method} {path[:60]}{query} [{auth}] {body[:40]!r}"
                                    f" -> {answer.status_code} {answer.text[:120]}"
                                )
    assert not failures, f"{len(failures)} of {count}:\n" + "\n".join(failures[:40])


async def test_the_websocket_answers_malformed_frames_and_keeps_serving(
    app: RunningApp, settings: Settings
) -> None:
    page, _ = issue_token(
        settings.app_secret, location_id="loc-a", user_id="u", company_id="company-1", role="admin"
    )
    frames: list[str | bytes] = [
        "not json",
        "[" * 10_000,
        '{"op": "subscribe", "instance_id": "\\ud800"}',
        '{"op": "subscribe", "instance_id": ["x"]}',
        '{"op": 5}',
        '{"op": "start", "instance_id": "²"}',
        '{"op": "logout", "instance_id": "' + "9" * 5000 + '"}',
        "null",
        b"\xff\xfe",
        '{"op": "subscribe", "instance_id": 1e999}',
    ]
    async with connect(f"{app.ws_url}/ws?token={page}") as ws:
        for frame in frames:
            await ws.send(frame)
            async with asyncio.timeout(10):
                answer = json.loads(await ws.recv())
            assert answer["type"] == "error", (frame[:40], answer)
        # Still serving after all of it.
        await ws.send(json.dumps({"op": "subscribe", "instance_id": "nope"}))
        async with asyncio.timeout(10):
            answer = json.loads(await ws.recv())
        assert answer["type"] == "error" and answer["error"]["code"] in (
            "not_found",
            "instance_not_found",
            "invalid_instance_id",
        )


async def test_an_oversized_frame_is_refused_by_the_server_before_it_is_buffered(
    app: RunningApp, settings: Settings
) -> None:
    page, _ = issue_token(
        settings.app_secret, location_id="loc-a", user_id="u", company_id="company-1", role="admin"
    )
    async with connect(f"{app.ws_url}/ws?token={page}", max_size=None) as ws:
        await ws.send("x" * (1 << 20))
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_one_token_cannot_hold_more_than_its_share_of_sockets(
    app: RunningApp, settings: Settings
) -> None:
    page, _ = issue_token(
        settings.app_secret, location_id="loc-a", user_id="u", company_id="company-1", role="admin"
    )
    url = f"{app.ws_url}/ws?token={page}"
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(10):
            await stack.enter_async_context(connect(url))
        async with connect(url) as extra:
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    await extra.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    # Closed sockets give their places back.
    async with connect(url) as again:
        await again.send(json.dumps({"op": "subscribe", "instance_id": "nope"}))
        async with asyncio.timeout(10):
            assert json.loads(await again.recv())["type"] == "error"
