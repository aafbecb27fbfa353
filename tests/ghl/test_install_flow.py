"""The OAuth install end to end over real HTTP: our /oauth/install -> the fake marketplace's
choose-location page -> our /oauth/callback -> rows stored (or nothing, with a page saying why)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from conftest import WebhookKeys, ghl_settings

from ghl_app.crypto import TokenCipher
from ghl_app.db import apply_migrations
from ghl_app.demo.fake_ghl import FakeGhl, Grant
from ghl_app.manifest import load_manifest
from ghl_app.models import Company, Location
from ghl_app.settings import Settings
from support.app_server import RunningApp, free_port, run_app
from web.app import create_app


async def start_app(data_dir: Path, fake: FakeGhl, keys: WebhookKeys) -> tuple[Settings, int]:
    port = free_port()
    settings = ghl_settings(data_dir, fake, keys, port=port)
    await apply_migrations(settings.database_url)
    return settings, port


async def install(running: RunningApp) -> httpx.Response:
    """What the browser does: start at /oauth/install and follow every redirect."""
    async with running.client(follow_redirects=True) as browser:
        return await browser.get("/oauth/install")


async def test_install_redirects_to_choose_location_with_our_client_scopes_and_signed_state(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    async with run_app(create_app(settings), port=port) as running, running.client() as client:
        response = await client.get("/oauth/install")
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == fake_ghl.url
    assert target.path == "/v2/oauth/chooselocation"
    query = parse_qs(target.query)
    assert query["client_id"] == [settings.ghl_client_id]
    assert query["redirect_uri"] == [f"http://127.0.0.1:{port}/oauth/callback"]
    assert query["response_type"] == ["code"]
    assert query["scope"][0].split(" ") == list(load_manifest().scopes)
    assert "." in query["state"][0]


async def test_location_install_stores_the_location_with_encrypted_tokens(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    fake_ghl.consent_location("loc-A", "co-A")
    async with run_app(create_app(settings), port=port) as running:
        page = await install(running)
        assert page.status_code == 200
        assert 'data-outcome="installed"' in page.text
        assert "foi instalado" in page.text and "is installed" in page.text
        row = await Location.get(location_id="loc-A")
    token_call = fake_ghl.calls_to("/oauth/token")[0]
    assert token_call.form is not None and token_call.form["grant_type"] == "authorization_code"
    assert token_call.form["redirect_uri"] == f"http://127.0.0.1:{port}/oauth/callback"
    cipher = TokenCipher(settings.app_secret)
    assert row.company_id == "co-A" and row.user_type == "Location" and row.is_installed
    assert row.access_token_enc is not None and row.refresh_token_enc is not None
    access = cipher.decrypt(row.access_token_enc)
    assert access in fake_ghl.access_tokens and access not in row.access_token_enc
    assert cipher.decrypt(row.refresh_token_enc) in fake_ghl.refresh_tokens
    assert row.expires_at is not None and "contacts.write" in row.scopes


async def test_agency_install_stores_company_and_mints_a_token_for_each_of_3_locations(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    fake_ghl.consent_company("co-B", [("loc-1", "Loja Um"), ("loc-2", "Loja Dois"), ("loc-3", "")])
    async with run_app(create_app(settings), port=port) as running:
        page = await install(running)
        assert page.status_code == 200
        assert page.text.count("data-location-id=") == 3
        company = await Company.get(company_id="co-B")
        locations = await Location.filter(company_id="co-B").order_by("location_id")
    cipher = TokenCipher(settings.app_secret)
    assert company.access_token_enc is not None and company.installed_at is not None
    assert company.uninstalled_at is None and not company.needs_reinstall
    assert [loc.location_id for loc in locations] == ["loc-1", "loc-2", "loc-3"]
    assert [loc.name for loc in locations] == ["Loja Um", "Loja Dois", ""]
    for location in locations:
        assert location.user_type == "Company" and location.access_token_enc is not None
        grant, _ = fake_ghl.access_tokens[cipher.decrypt(location.access_token_enc)]
        assert grant.location_id == location.location_id
    assert len(fake_ghl.calls_to("/oauth/locationToken")) == 3
    listed = fake_ghl.calls_to("/oauth/installedLocations")
    assert listed and listed[0].query["appId"] == settings.app_id


async def test_denied_consent_shows_page_and_stores_nothing(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    fake_ghl.deny_consent()
    async with run_app(create_app(settings), port=port) as running:
        page = await install(running)
        assert page.status_code == 400
        assert 'data-outcome="denied"' in page.text and "recusada" in page.text
        assert await Location.all().count() == 0 and await Company.all().count() == 0
    assert fake_ghl.calls_to("/oauth/token") == []


async def test_reused_code_shows_invalid_code_page_and_keeps_the_first_install_intact(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    fake_ghl.consent_location("loc-A", "co-A")
    async with run_app(create_app(settings), port=port) as running:
        first = await install(running)
        assert first.status_code == 200
        callback_url = str(first.url)
        before = await Location.get(location_id="loc-A")
        async with running.client() as browser:
            again = await browser.get(callback_url.removeprefix(running.url))
        # The callback URL carries our state, spent by the first install: refused before GHL
        # sees the (also spent) code again.
        assert again.status_code == 400 and 'data-outcome="bad_state"' in again.text
        assert len(fake_ghl.calls_to("/oauth/token")) == 1
        after = await Location.get(location_id="loc-A")
    assert after.access_token_enc == before.access_token_enc


async def test_ghl_down_during_agency_install_shows_page_and_writes_nothing_partial(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    fake_ghl.consent_company("co-B", [("loc-1", ""), ("loc-2", ""), ("loc-3", "")])
    # The third location's token cannot be minted: GHL keeps failing.
    fake_ghl.inject("/oauth/locationToken", status=503, rate=1.0)
    async with run_app(create_app(settings), port=port) as running:
        page = await install(running)
        assert page.status_code == 502 and 'data-outcome="ghl_down"' in page.text
        assert "não respondeu" in page.text and "did not answer" in page.text
        assert await Company.all().count() == 0 and await Location.all().count() == 0


async def test_ghl_unreachable_on_code_exchange_shows_ghl_down(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    fake_ghl.consent_location("loc-A", "co-A")
    fake_ghl.inject("/oauth/token", status=500)
    async with run_app(create_app(settings), port=port) as running:
        page = await install(running)
        assert page.status_code == 502 and 'data-outcome="ghl_down"' in page.text
        assert await Location.all().count() == 0


async def test_callback_with_forged_state_is_refused_without_calling_ghl(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    async with run_app(create_app(settings), port=port) as running, running.client() as client:
        page = await client.get("/oauth/callback", params={"code": "x", "state": "abc.def"})
        assert page.status_code == 400 and 'data-outcome="bad_state"' in page.text
    assert fake_ghl.calls_to("/oauth/token") == []


async def test_callback_without_state_is_accepted_because_ghl_may_not_echo_it(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    code = fake_ghl.issue_code(Grant("Location", "co-A", "loc-A"))
    async with run_app(create_app(settings), port=port) as running, running.client() as client:
        page = await client.get("/oauth/callback", params={"code": code})
        assert page.status_code == 200
        assert await Location.filter(location_id="loc-A").exists()


async def test_a_state_we_issued_is_good_once(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    # Issue 14, Low 11: a state could be reused. GHL may not echo it (ghl-api.md), so its
    # absence stays accepted; one we issued opens one callback only.
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    async with run_app(create_app(settings), port=port) as running, running.client() as client:
        state = parse_qs(urlsplit((await client.get("/oauth/install")).headers["location"]).query)[
            "state"
        ][0]
        first = fake_ghl.issue_code(Grant("Location", "co-A", "loc-A"))
        page = await client.get("/oauth/callback", params={"code": first, "state": state})
        assert page.status_code == 200
        second = fake_ghl.issue_code(Grant("Location", "co-A", "loc-B"))
        again = await client.get("/oauth/callback", params={"code": second, "state": state})
        assert again.status_code == 400 and 'data-outcome="bad_state"' in again.text
        odd = await client.get("/oauth/callback", params={"code": second, "state": "é.☃"})
        assert odd.status_code == 400
        assert not await Location.filter(location_id="loc-B").exists()


async def test_agency_install_pages_installed_locations_until_ghl_count_when_pages_are_capped(
    data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys
) -> None:
    """The spec's page default is 20 and its maximum undocumented: a page shorter than asked for
    does not end the listing, GHL's `count` does."""
    settings, port = await start_app(data_dir, fake_ghl, webhook_keys)
    fake_ghl.installed_page_cap = 20
    fake_ghl.future_locations.add("co-P")
    fake_ghl.consent_company("co-P", [(f"loc-{n:02d}", "") for n in range(45)])
    async with run_app(create_app(settings), port=port) as running:
        assert (await install(running)).status_code == 200
        assert await Location.filter(company_id="co-P").count() == 45
        assert (await Company.get(company_id="co-P")).future_locations
    assert len(fake_ghl.calls_to("/oauth/installedLocations")) == 3
