"""POST /webhooks/ghl over real HTTP: signed events applied once, forgeries and bad input
refused with nothing changed."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import WebhookKeys, seed_company, seed_location
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from ghl_app.db import apply_migrations
from ghl_app.demo.fake_ghl import FakeGhl
from ghl_app.ghl.http import NeedsReinstall
from ghl_app.ghl.installs import InstallService
from ghl_app.ghl.webhooks import WebhookVerifier, load_ed25519_key, load_rsa_key
from ghl_app.models import Company, Location, WebhookReceipt
from ghl_app.settings import Settings
from support.app_server import RunningApp, run_app
from support.app_server import test_settings as make_settings
from web.app import create_app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[RunningApp]:
    await apply_migrations(settings.database_url)
    async with run_app(create_app(settings)) as running:
        yield running


def event(settings: Settings, kind: str = "INSTALL", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": kind,
        "appId": settings.app_id,
        "companyId": "co-1",
        "locationId": "loc-1",
        "userId": "user-1",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "webhookId": f"wh-{kind}-{datetime.now(UTC).timestamp()}",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def ed_sign(keys: WebhookKeys, body: bytes) -> dict[str, str]:
    return {"X-GHL-Signature": base64.b64encode(keys.ed25519.sign(body)).decode()}


def rsa_sign(keys: WebhookKeys, body: bytes) -> dict[str, str]:
    signature = keys.rsa.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return {"X-WH-Signature": base64.b64encode(signature).decode()}


async def post(
    app: RunningApp, body: bytes, headers: dict[str, str], content_type: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    async with app.client() as client:
        response = await client.post(
            "/webhooks/ghl", content=body, headers={"Content-Type": content_type, **headers}
        )
    return response.status_code, response.json()


async def nothing_stored() -> bool:
    return (
        await WebhookReceipt.all().count() == 0
        and await Location.all().count() == 0
        and await Company.all().count() == 0
    )


async def test_ed25519_signed_install_creates_the_location_row(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys
) -> None:
    body = json.dumps(event(settings)).encode()
    status, answer = await post(app, body, ed_sign(webhook_keys, body))
    assert (status, answer) == (200, {"result": "handled"})
    row = await Location.get(location_id="loc-1")
    assert row.company_id == "co-1" and row.is_installed and row.access_token_enc is None
    receipt = await WebhookReceipt.get()
    assert receipt.kind == "INSTALL" and receipt.handled_at is not None


async def test_rsa_signed_agency_install_creates_the_company_row(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys
) -> None:
    body = json.dumps(event(settings, locationId=None, companyName="Agência X")).encode()
    status, _ = await post(app, body, rsa_sign(webhook_keys, body))
    assert status == 200
    company = await Company.get(company_id="co-1")
    assert company.name == "Agência X" and company.installed_at is not None


async def test_install_webhook_after_oauth_keeps_the_tokens(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, fake_ghl: FakeGhl
) -> None:
    await seed_location(fake_ghl, settings)
    before = await Location.get(location_id="loc-1")
    body = json.dumps(event(settings)).encode()
    assert (await post(app, body, ed_sign(webhook_keys, body)))[0] == 200
    after = await Location.get(location_id="loc-1")
    assert after.access_token_enc == before.access_token_enc is not None


async def test_replayed_webhook_is_answered_401_and_applied_once(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, fake_ghl: FakeGhl
) -> None:
    await seed_location(fake_ghl, settings)
    body = json.dumps(event(settings, "UNINSTALL")).encode()
    assert await post(app, body, ed_sign(webhook_keys, body)) == (200, {"result": "handled"})
    # Reinstalled meanwhile: a replay of the old UNINSTALL must not undo it.
    await Location.filter(location_id="loc-1").update(uninstalled_at=None)
    status, answer = await post(app, body, ed_sign(webhook_keys, body))
    assert status == 401 and answer["error"]["code"] == "replayed"  # docs/contract.md
    assert await WebhookReceipt.all().count() == 1
    assert (await Location.get(location_id="loc-1")).uninstalled_at is None


async def test_uninstall_deletes_tokens_keeps_row_and_stops_the_location_sessions(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, fake_ghl: FakeGhl
) -> None:
    await seed_location(fake_ghl, settings)
    stopped: list[str] = []

    async def stop_location(location_id: str) -> None:
        stopped.append(location_id)

    app.app.state.services.ghl_integration.webhooks.on_uninstall = stop_location
    body = json.dumps(event(settings, "UNINSTALL")).encode()
    assert (await post(app, body, ed_sign(webhook_keys, body)))[0] == 200
    row = await Location.get(location_id="loc-1")
    assert row.access_token_enc is None and row.refresh_token_enc is None
    assert row.uninstalled_at is not None and not row.is_installed
    assert stopped == ["loc-1"]


async def test_agency_uninstall_clears_the_company_and_the_locations_its_grant_installed(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, fake_ghl: FakeGhl
) -> None:
    await seed_company(fake_ghl, settings, "co-1", ["loc-1", "loc-2", "loc-3"])
    await seed_location(fake_ghl, settings, "loc-1", user_type="Company")
    await seed_location(fake_ghl, settings, "loc-2", user_type="Company")
    # loc-3 installed the app itself (its own grant): the agency's uninstall is not its own.
    await seed_location(fake_ghl, settings, "loc-3", user_type="Location")
    stopped: list[str] = []
    app.app.state.services.ghl_integration.webhooks.on_uninstall = stopped.append
    body = json.dumps(event(settings, "UNINSTALL", locationId=None)).encode()
    assert (await post(app, body, ed_sign(webhook_keys, body)))[0] == 200
    assert sorted(stopped) == ["loc-1", "loc-2"]
    kept = await Location.filter(access_token_enc__isnull=False).values_list(
        "location_id", flat=True
    )
    assert kept == ["loc-3"]
    assert (await Location.get(location_id="loc-3")).is_installed
    assert (await Company.get(company_id="co-1")).uninstalled_at is not None


async def test_install_of_a_new_sub_account_under_an_installed_agency_mints_on_first_use(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, fake_ghl: FakeGhl
) -> None:
    await seed_company(fake_ghl, settings, "co-1", ["loc-9"])
    body = json.dumps(event(settings, locationId="loc-9")).encode()
    assert (await post(app, body, ed_sign(webhook_keys, body)))[0] == 200
    assert (await Location.get(location_id="loc-9")).user_type == "Company"
    services = app.app.state.services
    assert await services.tokens.location_token("loc-9")
    assert len(fake_ghl.calls_to("/oauth/locationToken")) == 1


@pytest.mark.parametrize("forgery", ["unsigned", "bad_signature", "tampered_body", "wrong_key"])
async def test_forged_webhooks_get_401_and_change_nothing(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, forgery: str
) -> None:
    body = json.dumps(event(settings)).encode()
    headers = {
        "unsigned": {},
        "bad_signature": {"X-GHL-Signature": base64.b64encode(b"x" * 64).decode()},
        "tampered_body": ed_sign(webhook_keys, body.replace(b"loc-1", b"loc-2")),
        "wrong_key": {
            "X-GHL-Signature": base64.b64encode(
                ed25519.Ed25519PrivateKey.generate().sign(body)
            ).decode()
        },
    }[forgery]
    status, answer = await post(app, body, headers)
    assert status == 401 and answer["error"]["code"] in ("unsigned", "bad_signature")
    assert await nothing_stored()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"timestamp": (datetime.now(UTC) - timedelta(minutes=76)).isoformat()}, "stale"),
        ({"timestamp": (datetime.now(UTC) + timedelta(minutes=60)).isoformat()}, "stale"),
        ({"timestamp": None}, "stale"),
        ({"appId": "someone-else"}, "wrong_app"),
    ],
    ids=["older_than_ghl_retries", "in_the_future", "no_timestamp", "other_app"],
)
async def test_signed_but_stale_or_foreign_webhooks_get_401_and_change_nothing(
    app: RunningApp,
    settings: Settings,
    webhook_keys: WebhookKeys,
    fields: dict[str, Any],
    code: str,
) -> None:
    body = json.dumps(event(settings, **fields)).encode()
    status, answer = await post(app, body, ed_sign(webhook_keys, body))
    assert (status, answer["error"]["code"]) == (401, code)
    assert await nothing_stored()


async def test_bad_input_gets_a_clear_4xx_one_log_line_and_nothing_stored(
    app: RunningApp,
    settings: Settings,
    webhook_keys: WebhookKeys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="web.webhooks")
    good = json.dumps(event(settings)).encode()
    malformed = b'{"type": "INSTALL",'
    huge = json.dumps({**event(settings), "pad": "x" * (1024 * 1024)}).encode()
    no_id = json.dumps(event(settings, webhookId=None)).encode()
    no_target = json.dumps(event(settings, locationId=None, companyId=None)).encode()
    long_id = json.dumps(event(settings, webhookId="w" * 500)).encode()
    long_location = json.dumps(event(settings, locationId="l" * 500)).encode()
    nan_time = json.dumps(event(settings))[:-1].encode() + b', "timestamp": NaN}'
    huge_time = json.dumps(event(settings, timestamp=10**30)).encode()
    cases = [
        (long_id, ed_sign(webhook_keys, long_id), "application/json", 400),
        (long_location, ed_sign(webhook_keys, long_location), "application/json", 400),
        (nan_time, ed_sign(webhook_keys, nan_time), "application/json", 401),
        (huge_time, ed_sign(webhook_keys, huge_time), "application/json", 401),
        (malformed, ed_sign(webhook_keys, malformed), "application/json", 400),
        (good, ed_sign(webhook_keys, good), "text/plain", 415),
        (huge, ed_sign(webhook_keys, huge), "application/json", 413),
        (no_id, ed_sign(webhook_keys, no_id), "application/json", 400),
        (no_target, ed_sign(webhook_keys, no_target), "application/json", 400),
    ]
    for body, headers, content_type, expected in cases:
        caplog.clear()
        status, answer = await post(app, body, headers, content_type)
        assert status == expected, answer
        assert "error" in answer
        # An over-size body is refused (and logged) by the body limit before the route reads it.
        loggers = ("web.webhooks", "web.body_limit")
        assert len([r for r in caplog.records if r.name in loggers]) == 1
    assert await nothing_stored()


async def test_unknown_event_type_is_answered_200_and_ignored(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys
) -> None:
    body = json.dumps(event(settings, "ContactCreate")).encode()
    assert await post(app, body, ed_sign(webhook_keys, body)) == (200, {"result": "ignored"})
    assert await nothing_stored()


async def test_webhook_that_cannot_be_stored_gets_429_so_ghl_retries_and_then_succeeds(
    app: RunningApp,
    settings: Settings,
    webhook_keys: WebhookKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(self: InstallService, conn: object, payload: object) -> None:
        raise OSError("disk full")

    original = InstallService.record_install
    monkeypatch.setattr(InstallService, "record_install", broken)
    body = json.dumps(event(settings)).encode()
    status, answer = await post(app, body, ed_sign(webhook_keys, body))
    assert status == 429 and answer["error"]["code"] == "not_stored"
    assert await nothing_stored()  # the receipt rolled back with the effect
    monkeypatch.setattr(InstallService, "record_install", original)
    assert (await post(app, body, ed_sign(webhook_keys, body)))[0] == 200
    assert await Location.filter(location_id="loc-1").exists()


def test_verifier_accepts_raw_and_der_base64_ed25519_keys(webhook_keys: WebhookKeys) -> None:
    public = webhook_keys.ed25519.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body = b'{"x":1}'
    for text in (base64.b64encode(raw).decode(), base64.b64encode(der).decode()):
        verifier = WebhookVerifier(text, "")
        assert (
            verifier.verify(
                body, {"x-ghl-signature": ed_sign(webhook_keys, body)["X-GHL-Signature"]}
            )
            == "ed25519"
        )


def test_default_settings_carry_ghl_published_webhook_keys(data_dir: Path) -> None:
    defaults = make_settings(str(data_dir))
    assert load_ed25519_key(defaults.ghl_webhook_ed25519_key) is not None
    rsa_key = load_rsa_key(defaults.ghl_webhook_rsa_key)
    assert rsa_key is not None and rsa_key.key_size == 4096


def _ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def test_ghl_retries_of_a_refused_uninstall_are_taken_until_its_last_one(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GHL re-sends the same payload (same timestamp) after a 429, six times, 10 minutes apart
    (help article 155000007071): the retries at 11 and 65 minutes are accepted, a replay of a
    handled one is refused by its webhookId."""
    install = json.dumps(event(settings, timestamp=_ago(11))).encode()
    assert (await post(app, install, ed_sign(webhook_keys, install)))[0] == 200
    uninstall = json.dumps(event(settings, "UNINSTALL", timestamp=_ago(65))).encode()

    async def broken(self: InstallService, conn: object, payload: object) -> list[str]:
        raise OSError("database locked")

    original = InstallService.record_uninstall
    monkeypatch.setattr(InstallService, "record_uninstall", broken)
    assert (await post(app, uninstall, ed_sign(webhook_keys, uninstall)))[0] == 429
    monkeypatch.setattr(InstallService, "record_uninstall", original)
    assert (await post(app, uninstall, ed_sign(webhook_keys, uninstall)))[0] == 200
    assert not (await Location.get(location_id="loc-1")).is_installed
    status, answer = await post(app, uninstall, ed_sign(webhook_keys, uninstall))
    assert (status, answer["error"]["code"]) == (401, "replayed")


async def test_a_future_location_install_without_company_gets_its_token_from_its_agency(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, fake_ghl: FakeGhl
) -> None:
    """AppInstall.md: "In case of app installation via future locations, you may not get
    these fields" (companyId, userId). The agency grant that covers the location mints it."""
    await seed_company(fake_ghl, settings, "co-other", ["loc-x"])
    await seed_company(fake_ghl, settings, "co-1", ["loc-9"])
    body = json.dumps(event(settings, locationId="loc-9", companyId=None, userId=None)).encode()
    assert (await post(app, body, ed_sign(webhook_keys, body)))[0] == 200
    row = await Location.get(location_id="loc-9")
    assert row.is_installed and row.user_type == "Company" and row.company_id is None
    assert await app.app.state.services.tokens.location_token("loc-9")
    row = await Location.get(location_id="loc-9")
    assert row.company_id == "co-1" and not row.needs_reinstall
    minted = fake_ghl.calls_to("/oauth/locationToken")
    assert [c.status for c in minted][-1] == 200 and len(minted) <= 2


async def test_a_location_without_company_no_held_agency_covers_is_flagged_for_reinstall(
    app: RunningApp, settings: Settings, webhook_keys: WebhookKeys, fake_ghl: FakeGhl
) -> None:
    await seed_company(fake_ghl, settings, "co-other", ["loc-x"])
    body = json.dumps(event(settings, locationId="loc-9", companyId=None)).encode()
    assert (await post(app, body, ed_sign(webhook_keys, body)))[0] == 200
    with pytest.raises(NeedsReinstall):
        await app.app.state.services.tokens.location_token("loc-9")
    row = await Location.get(location_id="loc-9")
    assert row.needs_reinstall and "agency" in (row.reinstall_reason or "")
