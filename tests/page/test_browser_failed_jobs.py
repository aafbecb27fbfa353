"""Failed deliveries show on the page with their reason, and Retry puts them back in the queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from page.ghl_parent import GhlParent
from page.sso_support import install_location, user_context
from playwright.async_api import Browser, expect

from ghl_app.models import Job, JobStatus
from ghl_app.settings import Settings
from ghl_app.sso import encrypt_like_ghl
from support.app_server import RunningApp

pytestmark = pytest.mark.browser


async def test_failed_delivery_is_listed_with_its_reason_and_retry_requeues_it(
    framed_settings: Settings, framed_app: RunningApp, ghl_parent: GhlParent, browser: Browser
) -> None:
    await install_location("loc-a")
    await install_location("loc-b")
    mine = await Job.create(
        kind="ghl_to_wa",
        payload={"message_id": 1},
        ordering_key="loc-a:contact-1",
        location_id="loc-a",
        status=JobStatus.FAILED,
        attempts=8,
        run_after=datetime.now(UTC),
        last_error="PermanentError: no WhatsApp number of this location is connected",
    )
    theirs = await Job.create(
        kind="wa_to_ghl",
        payload={"message_id": 2},
        ordering_key="x",
        location_id="loc-b",
        status=JobStatus.FAILED,
        run_after=datetime.now(UTC),
        last_error="another location's failure",
    )
    ghl_parent.payload = encrypt_like_ghl(framed_settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale="en-US")
    frame = page.frame_locator("#ghl-app")
    await page.goto(ghl_parent.url)

    item = frame.locator(f"#failed-{mine.id}")
    await expect(item).to_contain_text("GoHighLevel → WhatsApp")
    await expect(item).to_contain_text("no WhatsApp number of this location is connected")
    await expect(frame.locator(f"#failed-{theirs.id}")).to_have_count(0)
    await item.get_by_role("button", name="Retry").click()
    await expect(item).to_have_count(0)
    await expect(
        frame.get_by_role("heading", name="Messages that could not be delivered")
    ).to_be_hidden()
    # Back in the queue: the worker may already have run it (its message no longer exists).
    assert (await Job.get(id=mine.id)).status is not JobStatus.FAILED
    assert (await Job.get(id=theirs.id)).status is JobStatus.FAILED
