"""The page in real Chromium, framed by a stand-in GHL parent: how it signs in, and what it says
when it cannot (outside GHL, a silent parent, a location without the app)."""

from __future__ import annotations

import asyncio
import functools

import pytest
from page.ghl_parent import GhlParent
from page.sso_support import install_location, user_context
from playwright.async_api import Browser, expect

import web.page
from ghl_app.page_tokens import issue_token
from ghl_app.sso import encrypt_like_ghl
from support.app_server import RunningApp

pytestmark = pytest.mark.browser


async def test_opened_outside_ghl_the_page_says_to_open_it_there_with_install_link(
    framed_app: RunningApp, browser: Browser
) -> None:
    page = await browser.new_page(locale="en-US")
    await page.goto(f"{framed_app.url}/app")
    await expect(
        page.get_by_role("heading", name="Open this page inside GoHighLevel")
    ).to_be_visible(timeout=2000)
    install = page.get_by_role("link", name="Install the app")
    await expect(install).to_have_attribute(
        "href", f"{framed_app.app.state.settings.public_url}/oauth/install"
    )


async def test_parent_that_never_answers_ends_in_advice_not_a_spinner(
    framed_app: RunningApp, ghl_parent: GhlParent, browser: Browser
) -> None:
    ghl_parent.payload = None
    page = await browser.new_page(locale="pt-BR")
    await page.goto(ghl_parent.url)
    frame = page.frame_locator("#ghl-app")
    await expect(frame.get_by_text("Entrando pelo GoHighLevel…")).to_be_visible()
    await expect(
        frame.get_by_role("heading", name="Abra esta página dentro do GoHighLevel")
    ).to_be_visible(timeout=6000)
    assert await page.evaluate("window.requests") == 1


async def test_location_without_the_app_gets_install_advice_inside_ghl(
    framed_app: RunningApp, ghl_parent: GhlParent, browser: Browser
) -> None:
    settings = framed_app.app.state.settings
    ghl_parent.payload = encrypt_like_ghl(
        settings.ghl_shared_secret, user_context(activeLocation="never-installed")
    )
    page = await browser.new_page(locale="en-US")
    await page.goto(ghl_parent.url)
    frame = page.frame_locator("#ghl-app")
    await expect(
        frame.get_by_role("heading", name="The app is not installed for this sub-account")
    ).to_be_visible(timeout=5000)
    await expect(frame.get_by_role("link", name="Install the app")).to_have_attribute(
        "href", f"{settings.public_url}/oauth/install"
    )
    # The language switch changes every string in place, without a reload.
    await frame.get_by_label("Language").select_option("pt-BR")
    await expect(
        frame.get_by_role("heading", name="O app não está instalado nesta subconta")
    ).to_be_visible()


async def test_agency_user_picks_one_of_its_installed_locations(
    framed_app: RunningApp, ghl_parent: GhlParent, browser: Browser
) -> None:
    await install_location("loc-a", name="Alpha Odonto")
    await install_location("loc-b", name="Beta Estética")
    await install_location("loc-x", name="Someone else's", company_id="other-agency")
    settings = framed_app.app.state.settings
    ghl_parent.payload = encrypt_like_ghl(
        settings.ghl_shared_secret, user_context(type="agency", activeLocation=None)
    )
    page = await browser.new_page(locale="en-US")
    await page.goto(ghl_parent.url)
    frame = page.frame_locator("#ghl-app")
    await expect(frame.get_by_role("heading", name="Choose a sub-account")).to_be_visible()
    choices = frame.locator("#picker-list button")
    await expect(choices).to_have_text(["Alpha Odonto", "Beta Estética"])
    await choices.filter(has_text="Beta Estética").click()
    await expect(frame.get_by_text("Sub-account: Beta Estética")).to_be_visible()
    await expect(frame.get_by_text("No WhatsApp numbers yet.")).to_be_visible()


async def test_expired_token_gets_a_fresh_sso_round_trip_not_an_error_screen(
    framed_app: RunningApp,
    ghl_parent: GhlParent,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web.page, "issue_token", functools.partial(issue_token, ttl_s=2))
    await install_location("loc-a")
    settings = framed_app.app.state.settings
    ghl_parent.payload = encrypt_like_ghl(settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale="en-US")
    await page.goto(ghl_parent.url)
    frame = page.frame_locator("#ghl-app")
    await expect(frame.get_by_text("No WhatsApp numbers yet.")).to_be_visible()
    assert await page.evaluate("window.requests") == 1
    await asyncio.sleep(2.5)  # the page token has expired now

    await frame.get_by_label("Name for a new number").fill("Suporte")
    await frame.get_by_role("button", name="Add number").click()
    await expect(frame.get_by_role("listitem").filter(has_text="Suporte")).to_be_visible()
    assert await page.evaluate("window.requests") >= 2
    await expect(frame.locator("#view-notice")).to_be_hidden()
