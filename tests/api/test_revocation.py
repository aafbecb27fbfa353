"""Issue 14: an UNINSTALL ends a location's page tokens and API keys at once (they kept
working for an hour, starting Chromium included); unlinking and deleting a number are for
admins (`role` was never read); a non-ASCII token is a 401, not a 500."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ghl_app.integrations.keys import create_key
from ghl_app.models import Instance, Location
from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from support.app_server import RunningApp

Auth = Callable[[str], dict[str, str]]
TokenFor = Callable[..., str]


async def _uninstall(location_id: str) -> None:
    # What the UNINSTALL webhook records (ghl_app/ghl/installs.py record_uninstall).
    await Location.filter(location_id=location_id).update(uninstalled_at=datetime.now(UTC))


async def _ws_close_code(url: str) -> int | None:
    async with connect(url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_an_uninstall_voids_page_tokens_and_keys_at_once_and_a_reinstall_keeps_them_void(
    app: RunningApp, auth: Auth, token_for: TokenFor
) -> None:
    old_token = token_for("loc-a")
    headers = {"Authorization": f"Bearer {old_token}"}
    _row, key = await create_key("loc-a", "crm", created_by=None)
    async with app.client() as client:
        created = await client.post("/api/instances", json={"name": "Sales"}, headers=headers)
        iid = created.json()["id"]
        assert (
            await client.get("/api/v1/numbers", headers={"Authorization": f"Bearer {key}"})
        ).status_code == 200

        await _uninstall("loc-a")
        for method, path in (
            ("GET", "/api/instances"),
            ("POST", f"/api/instances/{iid}/start"),
            ("GET", f"/api/instances/{iid}/messages"),
        ):
            refused = await client.request(method, path, headers=headers)
            assert refused.status_code == 401, path
            assert refused.json()["error"]["code"] == "uninstalled"
        by_key = await client.get("/api/v1/numbers", headers={"Authorization": f"Bearer {key}"})
        assert by_key.status_code == 401
        # Another location's page is untouched.
        assert (await client.get("/api/instances", headers=auth("loc-b"))).status_code == 200
        assert await _ws_close_code(f"{app.ws_url}/ws?token={old_token}") == 4401

        # Installed again: the old page token stays void, a new one works.
        await asyncio.sleep(1.1)  # tokens count whole seconds
        await Location.filter(location_id="loc-a").update(
            installed_at=datetime.now(UTC), uninstalled_at=None
        )
        assert (await client.get("/api/instances", headers=headers)).status_code == 401
        fresh = await client.get("/api/instances", headers=auth("loc-a"))
        assert fresh.status_code == 200
    assert (await Instance.get(id=iid)).status.value == "stopped"  # nothing started


async def test_a_plain_user_cannot_unlink_or_delete_a_number(
    app: RunningApp, settings: Settings, auth: Auth
) -> None:
    user_token, _ = issue_token(
        settings.app_secret, location_id="loc-a", user_id="u-2", company_id="company-1", role="user"
    )
    as_user = {"Authorization": f"Bearer {user_token}"}
    async with app.client() as client:
        iid = (await client.post("/api/instances", json={"name": "Sales"}, headers=as_user)).json()[
            "id"
        ]
        for method, path in (
            ("DELETE", f"/api/instances/{iid}"),
            ("POST", f"/api/instances/{iid}/logout"),
        ):
            refused = await client.request(method, path, headers=as_user)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_only"
        assert await Instance.exists(id=iid)
        assert (
            await client.delete(f"/api/instances/{iid}", headers=auth("loc-a"))
        ).status_code == 204


@pytest.mark.parametrize("token", ["abc.é", "é.tökén", "a" * 5000 + ".☃"])
async def test_a_non_ascii_bearer_or_socket_token_is_a_401_not_a_500(
    app: RunningApp, token: str
) -> None:
    async with app.client() as client:
        answer = await client.get(
            "/api/instances", headers={"Authorization": f"Bearer {token}".encode()}
        )
    assert answer.status_code == 401
    assert await _ws_close_code(f"{app.ws_url}/ws?token={token}") == 4401
