"""The agency overview in a real browser: an agency user sees only its own company's
sub-accounts, each number's state and last messages, filters them, opens one, and sets
disconnect alerts; in both languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from page.ghl_parent import GhlParent
from page.sso_support import install_location, user_context
from playwright.async_api import Browser, expect

from ghl_app.models import (
    AgencyAlerts,
    Direction,
    Instance,
    InstanceStatus,
    Job,
    JobStatus,
    Message,
    MessageStatus,
    Origin,
)
from ghl_app.settings import Settings
from ghl_app.sso import encrypt_like_ghl
from support.app_server import RunningApp

pytestmark = pytest.mark.browser


async def _seed() -> tuple[Instance, Instance]:
    await install_location("loc-a", name="Alpha Odonto")
    await install_location("loc-b", name="Beta Estética")
    await install_location("loc-x", name="Outra agência", company_id="other-agency")
    up = await Instance.create(
        location_id="loc-a",
        name="Vendas",
        status=InstanceStatus.CONNECTED,
        phone_number="+5511900000001",
    )
    down = await Instance.create(
        location_id="loc-b",
        name="Recepção",
        status=InstanceStatus.DISCONNECTED,
        phone_number="+5511900000002",
        last_error="offline: the phone has no internet",
    )
    await Instance.create(location_id="loc-x", name="Secret", status=InstanceStatus.FAILED)
    await Message.create(
        instance_id=up.id,
        location_id="loc-a",
        direction=Direction.INBOUND,
        origin=Origin.WHATSAPP,
        wa_message_id="w1",
        body="oi",
        status=MessageStatus.SYNCED,
    )
    await Job.create(
        kind="ghl_to_wa",
        payload={"message_id": 1},
        ordering_key="k",
        location_id="loc-b",
        status=JobStatus.FAILED,
        run_after=datetime.now(UTC),
        last_error="x",
    )
    return up, down


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (
            "en-US",
            {
                "disconnected": "Disconnected",
                "failed": "1 failed",
                "never": "never",
                "filter": "Disconnected",
                "saved": "Saved.",
            },
        ),
        (
            "pt-BR",
            {
                "disconnected": "Desconectado",
                "failed": "1 com falha",
                "never": "nunca",
                "filter": "Desconectadas",
                "saved": "Salvo.",
            },
        ),
    ],
)
async def test_agency_overview_scoped_filtered_and_opens_a_sub_account(
    framed_settings: Settings,
    framed_app: RunningApp,
    ghl_parent: GhlParent,
    browser: Browser,
    locale: str,
    words: dict[str, str],
) -> None:
    up, down = await _seed()
    ghl_parent.payload = encrypt_like_ghl(
        framed_settings.ghl_shared_secret, user_context(type="agency", activeLocation=None)
    )
    page = await browser.new_page(locale=locale)
    await page.goto(ghl_parent.url)
    frame = page.frame_locator("#ghl-app")
    alpha, beta = frame.locator("#agency-loc-a"), frame.locator("#agency-loc-b")
    await expect(frame.locator(".agency-location")).to_have_count(2)  # not the other agency's
    await expect(frame.locator("#agency-loc-x")).to_have_count(0)
    await expect(frame.get_by_text("Secret", exact=True)).to_have_count(0)
    await expect(beta.locator(f'[data-number-id="{down.id}"]')).to_contain_text(
        words["disconnected"]
    )
    await expect(beta).to_contain_text("offline: the phone has no internet")
    await expect(beta).to_contain_text(words["failed"])
    await expect(alpha.locator(f'[data-number-id="{up.id}"]')).to_contain_text(words["never"])

    await frame.get_by_role("button", name=words["filter"], exact=True).click()
    await expect(frame.locator(".agency-location")).to_have_count(1)
    await expect(beta).to_be_visible()

    await frame.locator("#alerts-url").fill("https://alerts.example.com/wa")
    await frame.locator("#alerts-grace").fill("10")
    await frame.locator("#alerts-form button[type=submit]").click()
    await expect(frame.locator("#alerts-status")).to_have_text(words["saved"])
    await expect(frame.locator("#alerts-secret-value")).to_contain_text("whsec_")
    saved = await AgencyAlerts.get(company_id="company-1")
    assert (saved.url, saved.grace_seconds) == ("https://alerts.example.com/wa", 600)

    await beta.get_by_role("button", name="Beta Estética").click()
    await expect(frame.locator(f"#instance-{down.id}")).to_be_visible()
