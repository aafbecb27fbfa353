"""`/app/sso` and ghl_app/sso.py: GHL's encrypted user context in, a location-scoped token out."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from page.sso_support import COMPANY, ghl_payload, install_location, user_context

from ghl_app.errors import AppError
from ghl_app.page_tokens import issue_token, verify_token
from ghl_app.settings import Settings
from ghl_app.sso import decrypt_payload, encrypt_like_ghl, parse_user
from support.app_server import RunningApp

# Made by `openssl enc -aes-256-cbc -md md5 -pass pass:shared-secret -base64`: the same
# passphrase format CryptoJS.AES.encrypt(text, secret) emits, from an independent implementation.
OPENSSL_VECTOR = (
    "U2FsdGVkX1+h+cWPK6ri6YopmPeFH43SwOXBCuWpVCN+hYrN6yOi1G8Li1e1vDSqVs/txtAJS8ddpsaxbgJ9Bc27hfen5o"
    "wLe4osjJLeIYv7nXUvwyrfxZM1sUtHIORwR05Nt0M8e7LCyfFaaK3H5BKgb1zNZVFeSRioMmJJRpYDsrIGqLYjzIaWZo"
    "cY7BdrrW0nIOdGAruVe++PkqE+jg=="
)


def test_decrypts_payload_made_by_openssl_passphrase_format() -> None:
    data = decrypt_payload("shared-secret", OPENSSL_VECTOR)
    assert data["activeLocation"] == "loc-9"
    assert data["userName"] == "Bia"


def test_encrypt_like_ghl_round_trips_and_uses_the_salted_header() -> None:
    payload = encrypt_like_ghl("s3cret", {"userId": "u", "companyId": "c"})
    assert base64.b64decode(payload).startswith(b"Salted__")
    assert decrypt_payload("s3cret", payload) == {"userId": "u", "companyId": "c"}


@pytest.mark.parametrize(
    "payload",
    [
        encrypt_like_ghl("another-secret", user_context()),
        encrypt_like_ghl("shared-secret", user_context())[:-12],
        "definitely not base64!",
        base64.b64encode(b"Salted__12345678" + b"x" * 31).decode(),
        "",
    ],
    ids=["other_secret", "truncated", "garbage", "bad_block_length", "empty"],
)
def test_unreadable_payloads_are_invalid_payload(payload: str) -> None:
    with pytest.raises(AppError) as caught:
        decrypt_payload("shared-secret", payload)
    assert (caught.value.code, caught.value.status) == ("invalid_payload", 400)


def test_location_user_without_active_location_is_refused() -> None:
    with pytest.raises(AppError, match="could not be read"):
        parse_user(user_context(activeLocation=None, type="location"))


async def test_valid_payload_yields_token_scoped_to_the_active_location(
    page_app: RunningApp, settings: Settings
) -> None:
    await install_location("loc-a", name="Clínica Sol")
    async with page_app.client() as client:
        response = await client.post("/app/sso", json={"payload": ghl_payload(settings)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["location_id"] == "loc-a"
    assert body["location"] == {"id": "loc-a", "name": "Clínica Sol", "needs_reinstall": False}
    assert body["user"]["name"] == "Ana Souza"
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    claims = verify_token(settings.app_secret, body["token"])
    assert (claims.location_id, claims.user_id, claims.company_id, claims.role) == (
        "loc-a",
        "user-1",
        COMPANY,
        "admin",
    )
    assert "set-cookie" not in response.headers


async def test_token_from_sso_opens_the_api_and_an_expired_one_is_refused(
    page_app: RunningApp, settings: Settings
) -> None:
    await install_location("loc-a")
    async with page_app.client() as client:
        token = (await client.post("/app/sso", json={"payload": ghl_payload(settings)})).json()[
            "token"
        ]
        ok = await client.get("/api/instances", headers={"authorization": f"Bearer {token}"})
        expired, _ = issue_token(
            settings.app_secret,
            location_id="loc-a",
            user_id="user-1",
            company_id=COMPANY,
            role="admin",
            ttl_s=-1,
        )
        refused = await client.get("/api/instances", headers={"authorization": f"Bearer {expired}"})
    assert ok.status_code == 200, ok.text
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_expired"


async def test_payload_encrypted_with_another_secret_is_refused(
    page_app: RunningApp, settings: Settings
) -> None:
    await install_location("loc-a")
    payload = encrypt_like_ghl("not-our-secret", user_context())
    async with page_app.client() as client:
        response = await client.post("/app/sso", json={"payload": payload})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"


async def test_truncated_payload_is_refused(page_app: RunningApp, settings: Settings) -> None:
    await install_location("loc-a")
    async with page_app.client() as client:
        response = await client.post("/app/sso", json={"payload": ghl_payload(settings)[:40]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"payload": 5}', b"{}"])
async def test_malformed_sso_body_is_invalid_payload(page_app: RunningApp, body: bytes) -> None:
    async with page_app.client() as client:
        response = await client.post("/app/sso", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"


async def test_location_that_never_installed_gets_not_installed_with_install_link(
    page_app: RunningApp, settings: Settings
) -> None:
    async with page_app.client() as client:
        response = await client.post(
            "/app/sso", json={"payload": ghl_payload(settings, activeLocation="loc-new")}
        )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "not_installed"
    assert error["install_url"] == f"{settings.public_url}/oauth/install"


async def test_uninstalled_location_gets_not_installed(
    page_app: RunningApp, settings: Settings
) -> None:
    await install_location("loc-a", uninstalled_at=datetime.now(UTC))
    async with page_app.client() as client:
        response = await client.post("/app/sso", json={"payload": ghl_payload(settings)})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_installed"


async def test_location_of_another_company_is_forbidden(
    page_app: RunningApp, settings: Settings
) -> None:
    await install_location("loc-a", company_id="other-agency")
    async with page_app.client() as client:
        response = await client.post("/app/sso", json={"payload": ghl_payload(settings)})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "location_forbidden"


async def test_needs_reinstall_is_surfaced_but_still_signs_in(
    page_app: RunningApp, settings: Settings
) -> None:
    await install_location("loc-a", needs_reinstall=True)
    async with page_app.client() as client:
        response = await client.post("/app/sso", json={"payload": ghl_payload(settings)})
    assert response.status_code == 200
    assert response.json()["location"]["needs_reinstall"] is True


async def test_agency_user_without_location_gets_only_its_companys_installed_locations(
    page_app: RunningApp, settings: Settings
) -> None:
    await install_location("loc-b", name="Beta")
    await install_location("loc-a", name="Alpha")
    await install_location("loc-gone", name="Gone", uninstalled_at=datetime.now(UTC))
    await install_location("loc-x", name="Other agency", company_id="other-agency")
    payload = ghl_payload(settings, type="agency", activeLocation=None)
    async with page_app.client() as client:
        picker = await client.post("/app/sso", json={"payload": payload})
        chosen = await client.post("/app/sso", json={"payload": payload, "location_id": "loc-b"})
        foreign = await client.post("/app/sso", json={"payload": payload, "location_id": "loc-x"})
        missing = await client.post(
            "/app/sso", json={"payload": payload, "location_id": "loc-gone"}
        )
    assert picker.status_code == 200
    assert picker.json()["choose_location"] is True
    assert picker.json()["locations"] == [
        {"id": "loc-a", "name": "Alpha"},
        {"id": "loc-b", "name": "Beta"},
    ]
    assert "token" not in picker.json()
    assert chosen.status_code == 200
    assert verify_token(settings.app_secret, chosen.json()["token"]).location_id == "loc-b"
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "location_forbidden"
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "not_installed"


async def test_agency_without_any_installed_location_gets_not_installed(
    page_app: RunningApp, settings: Settings
) -> None:
    payload = ghl_payload(settings, type="agency", activeLocation=None)
    async with page_app.client() as client:
        response = await client.post("/app/sso", json={"payload": payload})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_installed"


async def test_location_user_cannot_switch_to_another_location(
    page_app: RunningApp, settings: Settings
) -> None:
    await install_location("loc-a")
    await install_location("loc-b")
    async with page_app.client() as client:
        response = await client.post(
            "/app/sso", json={"payload": ghl_payload(settings), "location_id": "loc-b"}
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "location_forbidden"


def test_page_tokens_expire(settings: Settings) -> None:
    token, claims = issue_token(
        settings.app_secret, location_id="l", user_id="u", company_id="c", role="user", ttl_s=1
    )
    assert claims.expires_at <= time.time() + 1
    with pytest.raises(AppError) as caught:
        verify_token(settings.app_secret, token.replace(token[-3:], "abc"))
    assert caught.value.code == "invalid_token"


async def test_a_location_with_no_company_on_record_opens_only_through_ghls_active_location(
    page_app: RunningApp, settings: Settings
) -> None:
    # Issue 14, Medium 5: an agency user of any company could pick a location whose row names
    # no company. Only GHL's own `activeLocation` opens it now.
    await install_location("loc-a")
    await install_location("loc-orphan", company_id="")
    picker = ghl_payload(settings, type="agency", activeLocation=None, companyId="any-agency")
    inside = ghl_payload(settings, activeLocation="loc-orphan", companyId="its-agency")
    async with page_app.client() as client:
        picked = await client.post(
            "/app/sso", json={"payload": picker, "location_id": "loc-orphan"}
        )
        opened = await client.post("/app/sso", json={"payload": inside})
    assert picked.status_code == 403
    assert picked.json()["error"]["code"] == "location_forbidden"
    assert opened.status_code == 200
    assert verify_token(settings.app_secret, opened.json()["token"]).location_id == "loc-orphan"
