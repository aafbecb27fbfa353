"""The Instances REST API over real HTTP, with real Chromium on the fake WhatsApp Web page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sessions.helpers import fake_phone, wait_status

from ghl_app.models import Instance, InstanceStatus
from ghl_app.sessions import SessionManager
from support.app_server import RunningApp

Auth = Callable[[str], dict[str, str]]
PHONE = "5511999999999"
# The contract's Instance shape, plus `is_default` (the location's default number; an addition).
INSTANCE_KEYS = {
    "id",
    "name",
    "status",
    "phone_number",
    "error",
    "created_at",
    "updated_at",
    "is_default",
}

# Every instance route, once: the cross-location table below is driven from this list.
INSTANCE_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/instances/{id}", None),
    ("PATCH", "/api/instances/{id}", {"name": "Stolen"}),
    ("DELETE", "/api/instances/{id}", None),
    ("POST", "/api/instances/{id}/start", None),
    ("POST", "/api/instances/{id}/stop", None),
    ("POST", "/api/instances/{id}/logout", None),
    ("GET", "/api/instances/{id}/qr", None),
]


def _sessions(app: RunningApp) -> SessionManager:
    sessions: SessionManager = app.app.state.services.sessions
    return sessions


async def _create(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    response = await client.post("/api/instances", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_list_get_rename_and_delete_an_instance(app: RunningApp, auth: Auth) -> None:
    headers = auth("loc-a")
    async with app.client() as client:
        created = await _create(client, headers, "  Sales  ")
        assert set(created) == INSTANCE_KEYS
        assert created["name"] == "Sales" and created["status"] == "stopped"
        assert created["phone_number"] is None and created["error"] is None
        listed = (await client.get("/api/instances", headers=headers)).json()
        assert [i["id"] for i in listed["instances"]] == [created["id"]]
        got = await client.get(f"/api/instances/{created['id']}", headers=headers)
        assert got.json() == created
        renamed = await client.patch(
            f"/api/instances/{created['id']}", json={"name": "Support"}, headers=headers
        )
        assert renamed.status_code == 200 and renamed.json()["name"] == "Support"
        deleted = await client.delete(f"/api/instances/{created['id']}", headers=headers)
        assert deleted.status_code == 204
        gone = await client.get(f"/api/instances/{created['id']}", headers=headers)
        assert gone.status_code == 404
        assert (await client.get("/api/instances", headers=headers)).json() == {"instances": []}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "invalid_name"),
        ({"name": "   "}, 422, "invalid_name"),
        ({"name": 42}, 422, "invalid_name"),
        ({"name": "x" * 101}, 422, "invalid_name"),
        ({"name": "Sales\u0000"}, 422, "invalid_name"),
        ({"name": "Sales\u202egnp.exe"}, 422, "invalid_name"),
        ([], 400, "invalid_json"),
    ],
)
async def test_create_refuses_invalid_names(
    app: RunningApp, auth: Auth, body: Any, status: int, code: str
) -> None:
    async with app.client() as client:
        response = await client.post("/api/instances", json=body, headers=auth("loc-a"))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_names_are_unique_per_location_only(app: RunningApp, auth: Auth) -> None:
    async with app.client() as client:
        first = await _create(client, auth("loc-a"), "Sales")
        await _create(client, auth("loc-a"), "Support")
        again = await client.post("/api/instances", json={"name": "Sales"}, headers=auth("loc-a"))
        assert again.status_code == 409 and again.json()["error"]["code"] == "name_taken"
        rename = await client.patch(
            f"/api/instances/{first['id']}", json={"name": "Support"}, headers=auth("loc-a")
        )
        assert rename.status_code == 409 and rename.json()["error"]["code"] == "name_taken"
        await _create(client, auth("loc-b"), "Sales")  # another location may use it
        assert (
            await client.post("/api/instances", json={"name": "x" * 100}, headers=auth("loc-a"))
        ).status_code == 201


async def test_requests_without_a_valid_token_are_refused(app: RunningApp) -> None:
    async with app.client() as client:
        missing = await client.get("/api/instances")
        forged = await client.get("/api/instances", headers={"Authorization": "Bearer abc.def"})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_token"


async def test_every_instance_route_answers_404_for_another_locations_instance(
    app: RunningApp, auth: Auth
) -> None:
    async with app.client() as client:
        theirs = await _create(client, auth("loc-a"), "Private")
        missing = {"error": {"code": "not_found", "message": "No such instance."}}
        for method, template, body in INSTANCE_ROUTES:
            for target in (theirs["id"], str(uuid.uuid4()), "not-a-uuid"):
                response = await client.request(
                    method, template.format(id=target), json=body, headers=auth("loc-b")
                )
                assert (response.status_code, response.json()) == (404, missing), (
                    method,
                    template,
                    target,
                )
        listed = (await client.get("/api/instances", headers=auth("loc-b"))).json()
        assert listed == {"instances": []}
        still = (await client.get(f"/api/instances/{theirs['id']}", headers=auth("loc-a"))).json()
    assert still == theirs  # not renamed, started, logged out or deleted
    assert _sessions(app).session_counts()["running"] == 0


@pytest.mark.browser
async def test_start_returns_qr_then_scan_connects_and_start_again_returns_phone(
    app: RunningApp, auth: Auth
) -> None:
    headers = auth("loc-a")
    async with app.client() as client:
        created = await _create(client, headers, "Sales")
        iid = created["id"]
        started = (await client.post(f"/api/instances/{iid}/start", headers=headers)).json()
        assert started["instance"]["status"] == "qr"
        qr = started["qr"]
        assert set(qr) == {"code", "svg", "expires_at"} and qr["svg"].startswith("<svg")
        current = await client.get(f"/api/instances/{iid}/qr", headers=headers)
        assert current.status_code == 200 and current.json()["code"].startswith("2@")

        await fake_phone(_sessions(app), uuid.UUID(iid)).scan(PHONE)
        await wait_status(uuid.UUID(iid), InstanceStatus.CONNECTED)
        again = (await client.post(f"/api/instances/{iid}/start", headers=headers)).json()
        assert again["qr"] is None
        assert again["instance"]["status"] == "connected"
        assert again["instance"]["phone_number"] == f"+{PHONE}"
        not_waiting = await client.get(f"/api/instances/{iid}/qr", headers=headers)
        assert not_waiting.status_code == 409
        assert not_waiting.json()["error"]["code"] == "not_waiting_for_qr"
        assert not_waiting.json()["error"]["status"] == "connected"

        stopped = await client.post(f"/api/instances/{iid}/stop", headers=headers)
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
        logged_out = await client.post(f"/api/instances/{iid}/logout", headers=headers)
        assert logged_out.json()["status"] == "logged_out"
        assert logged_out.json()["phone_number"] is None
    assert not _sessions(app).profile_dir(uuid.UUID(iid)).exists()


@pytest.mark.browser
async def test_start_with_phone_answers_with_a_pairing_code(app: RunningApp, auth: Auth) -> None:
    async with app.client() as client:
        created = await _create(client, auth("loc-a"), "Sales")
        response = await client.post(
            f"/api/instances/{created['id']}/start",
            json={"phone": "+55 11 99999-9999"},
            headers=auth("loc-a"),
        )
    body = response.json()
    assert response.status_code == 200 and len(body["pairing_code"]) == 8
    row = await Instance.get(id=created["id"])
    assert row.status is InstanceStatus.QR


async def test_a_lone_surrogate_in_a_name_is_a_422_not_a_500(app: RunningApp, auth: Auth) -> None:
    headers = {**auth("loc-a"), "content-type": "application/json"}
    async with app.client() as client:
        response = await client.post(
            "/api/instances", content=b'{"name": "Sales\\ud800"}', headers=headers
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_name"


async def test_a_location_cannot_create_more_than_its_cap_of_numbers(
    app: RunningApp, auth: Auth
) -> None:
    # Issue 14, Medium 4: one location created 300 instances. The cap is per location.
    async with app.client() as client:
        for n in range(20):
            await _create(client, auth("loc-a"), f"Number {n}")
        refused = await client.post(
            "/api/instances", json={"name": "One more"}, headers=auth("loc-a")
        )
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "max_instances"
        assert (
            await client.post("/api/instances", json={"name": "B"}, headers=auth("loc-b"))
        ).status_code == 201
    assert await Instance.filter(location_id="loc-a").count() == 20


@pytest.mark.browser
async def test_one_location_cannot_take_another_locations_session_slots(
    app: RunningApp, auth: Auth
) -> None:
    # MAX_SESSIONS=4 here, so a location's share is 2: a third start of loc-a is refused with
    # its own code, and loc-b still starts (before: loc-a took all 4, loc-b got max_sessions).
    async with app.client() as client:
        mine = [await _create(client, auth("loc-a"), f"A{n}") for n in range(3)]
        for created in mine[:2]:
            started = await client.post(
                f"/api/instances/{created['id']}/start", headers=auth("loc-a")
            )
            assert started.status_code == 200
        third = await client.post(f"/api/instances/{mine[2]['id']}/start", headers=auth("loc-a"))
        assert third.status_code == 409
        assert third.json()["error"]["code"] == "location_max_sessions"
        theirs = await _create(client, auth("loc-b"), "B")
        started = await client.post(f"/api/instances/{theirs['id']}/start", headers=auth("loc-b"))
        assert started.status_code == 200
    assert _sessions(app).session_counts()["running"] == 3
