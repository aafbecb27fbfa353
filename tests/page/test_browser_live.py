"""The page's WebSocket survives a server restart: it reconnects with backoff, resubscribes and
resynchronises from the snapshot, without a reload or a new sign-in screen."""

from __future__ import annotations

import pytest
from page.ghl_parent import GhlParent
from page.sso_support import install_location, user_context
from playwright.async_api import Browser, expect

from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from ghl_app.sso import encrypt_like_ghl
from support.app_server import free_port, run_app
from web.app import create_app

pytestmark = pytest.mark.browser


async def test_server_restart_reconnects_resubscribes_and_resyncs(
    framed_settings: Settings, ghl_parent: GhlParent, browser: Browser
) -> None:
    port = free_port()
    ghl_parent.src = f"http://127.0.0.1:{port}/app"
    ghl_parent.payload = encrypt_like_ghl(framed_settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale="en-US")
    frame = page.frame_locator("#ghl-app")

    async with run_app(create_app(framed_settings), port=port) as running:
        await install_location("loc-a")
        # Issued after the install: a token older than its location's install is void.
        token, _ = issue_token(
            framed_settings.app_secret,
            location_id="loc-a",
            user_id="u",
            company_id="c",
            role="admin",
        )
        auth = {"authorization": f"Bearer {token}"}
        await page.goto(ghl_parent.url)
        await frame.get_by_label("Name for a new number").fill("Vendas")
        await frame.get_by_role("button", name="Add number").click()
        await expect(frame.get_by_role("heading", name="Vendas")).to_be_visible()
        await expect(frame.get_by_text("Live", exact=True)).to_be_visible()
        async with running.client() as client:
            created = await client.post("/api/instances", json={"name": "Suporte"}, headers=auth)
            assert created.status_code == 201

    await expect(frame.get_by_text("Reconnecting…")).to_be_visible()

    async with run_app(create_app(framed_settings), port=port) as running:
        await expect(frame.get_by_text("Live", exact=True)).to_be_visible(timeout=10_000)
        # Resynchronised: the instance created while the page was not listening shows up.
        await expect(frame.get_by_role("heading", name="Suporte")).to_be_visible()
        # Resubscribed: a change made elsewhere arrives live on the new socket.
        async with running.client() as client:
            listed = (await client.get("/api/instances", headers=auth)).json()["instances"]
            vendas = next(row for row in listed if row["name"] == "Vendas")
            renamed = await client.patch(
                f"/api/instances/{vendas['id']}", json={"name": "Vendas SP"}, headers=auth
            )
            assert renamed.status_code == 200
        await expect(frame.get_by_role("heading", name="Vendas SP")).to_be_visible(timeout=5000)
        assert await page.evaluate("window.requests") == 1  # no new sign-in was needed
