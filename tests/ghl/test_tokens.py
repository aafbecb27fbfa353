"""Token lifecycle against the fake GHL: single-flight refresh, rotation, lost answers,
re-minting agency-derived tokens, and giving up (once) when the grant is gone."""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import UTC, datetime, timedelta

import pytest
from conftest import seed_company, seed_location

from ghl_app.crypto import TokenCipher
from ghl_app.demo.fake_ghl import FakeGhl, Grant
from ghl_app.ghl.http import GhlApiError, NeedsReinstall
from ghl_app.ghl.integration import GhlIntegration
from ghl_app.models import Company, Location
from ghl_app.settings import Settings


def refreshes(fake: FakeGhl) -> list[str]:
    return [
        call.form["refresh_token"]
        for call in fake.calls_to("/oauth/token")
        if call.form and call.form.get("grant_type") == "refresh_token"
    ]


async def test_50_concurrent_calls_on_an_expired_token_refresh_exactly_once_and_all_succeed(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    await seed_location(fake_ghl, settings, expires_in=-60)
    results = await asyncio.gather(
        *(ghl.client.upsert_contact("loc-1", phone=f"+55119{i:08d}") for i in range(50))
    )
    assert len({contact["id"] for contact in results}) == 50
    assert len(refreshes(fake_ghl)) == 1
    upserts = fake_ghl.calls_to("/contacts/upsert")
    assert len(upserts) == 50 and all(call.status == 201 for call in upserts)
    gc.collect()
    assert ghl.tokens.held_locks() == 0  # the per-location lock went away with its users


async def test_rotated_refresh_token_is_stored_before_the_new_access_token_is_used(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    first = await seed_location(fake_ghl, settings, expires_in=-60)
    await ghl.client.find_contact_by_phone("loc-1", "+5511999990000")
    row = await Location.get(location_id="loc-1")
    cipher = TokenCipher(settings.app_secret)
    assert row.refresh_token_enc is not None and row.access_token_enc is not None
    stored_refresh = cipher.decrypt(row.refresh_token_enc)
    assert stored_refresh != first["refresh_token"] and stored_refresh in fake_ghl.refresh_tokens
    assert first["refresh_token"] in fake_ghl.used_refresh_tokens
    used = fake_ghl.calls_to("/contacts/search/duplicate")[0].headers["authorization"]
    assert used == f"Bearer {cipher.decrypt(row.access_token_enc)}"


async def test_a_401_refreshes_once_and_the_call_succeeds(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    body = await seed_location(fake_ghl, settings)
    fake_ghl.expire(body["access_token"])  # GHL stopped accepting it before our expiry
    contact = await ghl.client.upsert_contact("loc-1", phone="+5511988887777")
    assert contact["id"]
    assert len(refreshes(fake_ghl)) == 1
    assert [c.status for c in fake_ghl.calls_to("/contacts/upsert")] == [401, 201]


async def test_lost_refresh_answer_after_rotation_marks_location_needs_reinstall_without_loop(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_location(fake_ghl, settings, expires_in=-60)
    fake_ghl.lose_refresh_answers(1)
    caplog.set_level(logging.WARNING, logger="ghl_app.ghl.tokens")
    with pytest.raises(NeedsReinstall):
        await ghl.client.upsert_contact("loc-1", phone="+5511900000001")
    # The lost refresh, then one more try with the same token (refused: GHL had rotated it).
    assert len(refreshes(fake_ghl)) == 2
    row = await Location.get(location_id="loc-1")
    assert row.needs_reinstall and row.reinstall_reason and "refused" in row.reinstall_reason
    assert row.access_token_enc is None and row.refresh_token_enc is None
    for _ in range(3):
        with pytest.raises(NeedsReinstall):
            await ghl.client.upsert_contact("loc-1", phone="+5511900000001")
    assert len(refreshes(fake_ghl)) == 2  # no more calls once the grant is known dead
    assert fake_ghl.calls_to("/contacts/upsert") == []
    assert sum("needs reinstall" in r.getMessage() for r in caplog.records) == 1


async def test_lost_refresh_answer_for_agency_derived_token_is_recovered_by_re_minting(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    await seed_company(fake_ghl, settings, "co-1", ["loc-1"])
    await seed_location(fake_ghl, settings, expires_in=-60, user_type="Company")
    fake_ghl.lose_refresh_answers(1)
    contact = await ghl.client.upsert_contact("loc-1", phone="+5511900000002")
    assert contact["id"]
    assert len(refreshes(fake_ghl)) == 2
    assert len(fake_ghl.calls_to("/oauth/locationToken")) == 1
    row = await Location.get(location_id="loc-1")
    assert not row.needs_reinstall and row.access_token_enc is not None
    assert row.refresh_token_enc is None  # minted tokens are re-minted, not refreshed


async def test_agency_derived_token_without_refresh_token_is_minted_from_company_token(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    await seed_company(fake_ghl, settings, "co-1", ["loc-1"])
    await seed_location(fake_ghl, settings, expires_in=-60, user_type="Company", with_refresh=False)
    await asyncio.gather(*(ghl.client.find_contact_by_phone("loc-1", "+1555") for _ in range(10)))
    assert refreshes(fake_ghl) == []
    assert len(fake_ghl.calls_to("/oauth/locationToken")) == 1


async def test_expired_company_token_is_refreshed_once_before_minting(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    company = await seed_company(fake_ghl, settings, "co-1", ["loc-1", "loc-2"])
    fake_ghl.expire(company["access_token"])
    await Company.filter(company_id="co-1").update(expires_at=datetime.now(UTC) - timedelta(1))
    for location in ("loc-1", "loc-2"):
        await seed_location(
            fake_ghl, settings, location, expires_in=-60, user_type="Company", with_refresh=False
        )
    await asyncio.gather(
        *(ghl.client.find_contact_by_phone(loc, "+1555") for loc in ("loc-1", "loc-2") * 5)
    )
    assert refreshes(fake_ghl) == [company["refresh_token"]]
    assert len(fake_ghl.calls_to("/oauth/locationToken")) == 2


async def test_refresh_while_ghl_is_down_keeps_the_stored_tokens_and_raises_retryable_error(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    first = await seed_location(fake_ghl, settings, expires_in=-60)
    fake_ghl.inject("/oauth/token", status=502, times=2)
    with pytest.raises(GhlApiError) as caught:
        await ghl.client.upsert_contact("loc-1", phone="+5511900000003")
    assert caught.value.status == 502 and caught.value.retryable
    row = await Location.get(location_id="loc-1")
    assert not row.needs_reinstall and row.refresh_token_enc is not None
    assert TokenCipher(settings.app_secret).decrypt(row.refresh_token_enc) == first["refresh_token"]
    # GHL is back: the same refresh token still works.
    assert (await ghl.client.upsert_contact("loc-1", phone="+5511900000003"))["id"]


async def test_uninstalled_location_raises_needs_reinstall_without_calling_ghl(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    with pytest.raises(NeedsReinstall):
        await ghl.client.upsert_contact("never-installed", phone="+1")
    assert fake_ghl.calls == []


async def test_token_is_read_from_the_database_once_then_served_from_memory(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    body = await seed_location(fake_ghl, settings)
    assert await ghl.tokens.location_token("loc-1") == body["access_token"]
    # The row changes behind the cache's back: within the cache period the first token is used,
    # after forget() (what an install or uninstall webhook does) the row is read again.
    other = fake_ghl.issue_tokens(Grant("Location", "co-1", "loc-1"))
    cipher = TokenCipher(settings.app_secret)
    await Location.filter(location_id="loc-1").update(
        access_token_enc=cipher.encrypt(other["access_token"])
    )
    assert await ghl.tokens.location_token("loc-1") == body["access_token"]
    ghl.tokens.forget()
    assert await ghl.tokens.location_token("loc-1") == other["access_token"]


async def test_a_cached_token_ghl_refuses_is_refreshed_and_replaced(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    body = await seed_location(fake_ghl, settings)
    await ghl.client.upsert_contact("loc-1", phone="+5511988887777")  # the token is now cached
    fake_ghl.expire(body["access_token"])
    await ghl.client.upsert_contact("loc-1", phone="+5511988886666")
    await ghl.client.upsert_contact("loc-1", phone="+5511988885555")
    assert len(refreshes(fake_ghl)) == 1  # the refreshed token replaced the cached one
    assert [c.status for c in fake_ghl.calls_to("/contacts/upsert")] == [201, 401, 201, 201]


async def test_a_cached_token_is_not_used_after_the_location_needs_reinstall(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    body = await seed_location(fake_ghl, settings)
    await ghl.client.upsert_contact("loc-1", phone="+5511988887777")
    fake_ghl.expire(body["access_token"])
    fake_ghl.refresh_tokens.clear()  # GHL revoked the grant: the refresh is refused
    with pytest.raises(NeedsReinstall):
        await ghl.client.upsert_contact("loc-1", phone="+5511988886666")
    calls = len(fake_ghl.calls)
    with pytest.raises(NeedsReinstall):
        await ghl.client.upsert_contact("loc-1", phone="+5511988885555")
    assert len(fake_ghl.calls) == calls  # no GHL call with the dead token


@pytest.mark.parametrize("shape", ["oauth", "spec"])
async def test_a_refresh_refused_in_either_error_shape_flags_the_location_once(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings, shape: str
) -> None:
    """GHL's refusal may be OAuth's invalid_grant or the spec's UnauthorizedDTO (apps/oauth.json):
    both mean the grant is gone, and no more refreshes are tried."""
    fake_ghl.token_error_shape = shape
    body = await seed_location(fake_ghl, settings, expires_in=-60)
    fake_ghl.refresh_tokens.pop(body["refresh_token"])  # revoked at GHL
    for _ in range(2):
        with pytest.raises(NeedsReinstall):
            await ghl.client.upsert_contact("loc-1", phone="+5511900000003")
    assert len(refreshes(fake_ghl)) == 1
    assert (await Location.get(location_id="loc-1")).needs_reinstall


def test_a_refusal_of_our_client_credentials_is_not_a_dead_grant() -> None:
    from ghl_app.ghl.oauth import is_dead_grant

    assert not is_dead_grant(GhlApiError(401, "invalid_client", "invalid_client"))
    assert not is_dead_grant(GhlApiError(401, "Invalid client credentials", "Unauthorized"))
    assert not is_dead_grant(GhlApiError(500, "Invalid refresh token", None))
    assert is_dead_grant(GhlApiError(401, "Invalid refresh token", "Unauthorized"))
    assert is_dead_grant(GhlApiError(400, "Location is not active", None))


async def test_idle_grants_are_refreshed_before_their_refresh_token_dies(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    """A refresh token lives "a year unless it is used" (Authorization.md FAQ): a grant idle
    for 30 days is refreshed; a busy one is not touched."""
    idle = await seed_location(fake_ghl, settings, "loc-idle", expires_in=-31 * 86400)
    await seed_location(fake_ghl, settings, "loc-busy")
    company = await seed_company(fake_ghl, settings, "co-1", ["loc-x"])
    await Company.filter(company_id="co-1").update(
        expires_at=datetime.now(UTC) - timedelta(days=40)
    )
    assert await ghl.tokens.refresh_idle() == 2
    assert sorted(refreshes(fake_ghl)) == sorted([idle["refresh_token"], company["refresh_token"]])
    row = await Location.get(location_id="loc-idle")
    assert row.expires_at is not None and row.expires_at > datetime.now(UTC)
    assert await ghl.tokens.refresh_idle() == 0
