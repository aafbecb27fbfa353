"""A number's recent messages in the page, with the routing rule that picked the number for a
message from GHL, in both languages."""

from __future__ import annotations

import pytest
from page.ghl_parent import GhlParent
from page.sso_support import install_location, user_context
from playwright.async_api import Browser, expect

from ghl_app.models import Direction, Instance, Message, MessageStatus, Origin
from ghl_app.settings import Settings
from ghl_app.sso import encrypt_like_ghl
from support.app_server import RunningApp

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("locale", "button", "received", "route", "failed"),
    [
        ("en-US", "Messages", "Received", "number named by the contact's tag", "failed"),
        (
            "pt-BR",
            "Mensagens",
            "Recebida",
            "número indicado pela etiqueta do contato",
            "falhou",
        ),
    ],
)
async def test_messages_panel_shows_direction_status_and_the_routing_rule(
    framed_settings: Settings,
    framed_app: RunningApp,
    ghl_parent: GhlParent,
    browser: Browser,
    locale: str,
    button: str,
    received: str,
    route: str,
    failed: str,
) -> None:
    await install_location("loc-a")
    instance = await Instance.create(location_id="loc-a", name="Vendas")
    common = {"instance_id": instance.id, "location_id": "loc-a"}
    await Message.create(
        **common,
        direction=Direction.INBOUND,
        origin=Origin.WHATSAPP,
        wa_message_id="in-1",
        body="Quero um orçamento",
        status=MessageStatus.SYNCED,
    )
    routed = await Message.create(
        **common,
        direction=Direction.OUTBOUND,
        origin=Origin.GHL,
        wa_message_id="out-1",
        body="Segue o orçamento",
        status=MessageStatus.DELIVERED,
        media={"route": {"rule": "contact_tag", "instance_id": str(instance.id)}},
    )
    lost = await Message.create(
        **common,
        direction=Direction.OUTBOUND,
        origin=Origin.GHL,
        wa_message_id="out-2",
        body="x",
        status=MessageStatus.FAILED,
        error="+5511 is not on WhatsApp",
    )
    ghl_parent.payload = encrypt_like_ghl(framed_settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale=locale)
    frame = page.frame_locator("#ghl-app")
    await page.goto(ghl_parent.url)
    card = frame.locator(f"#instance-{instance.id}")
    await card.get_by_role("button", name=button, exact=True).click()
    panel = frame.locator(f"#journey-{instance.id}")
    await expect(panel.locator(".journey-item")).to_have_count(3)
    await expect(panel.locator(".journey-item").last).to_contain_text(received)
    routed_row = panel.locator(f'[data-message-id="{routed.id}"]')
    await expect(routed_row).to_contain_text("Segue o orçamento")
    await expect(routed_row.locator(".journey-route")).to_have_text(route)
    lost_row = panel.locator(f'[data-message-id="{lost.id}"]')
    await expect(lost_row.locator(".journey-status")).to_have_text(failed)
    await expect(lost_row).to_contain_text("is not on WhatsApp")


async def test_make_default_moves_the_default_badge_to_that_number(
    framed_settings: Settings, framed_app: RunningApp, ghl_parent: GhlParent, browser: Browser
) -> None:
    await install_location("loc-a")
    first = await Instance.create(location_id="loc-a", name="Vendas", is_default=True)
    second = await Instance.create(location_id="loc-a", name="Suporte")
    ghl_parent.payload = encrypt_like_ghl(framed_settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale="pt-BR")
    frame = page.frame_locator("#ghl-app")
    await page.goto(ghl_parent.url)
    first_card = frame.locator(f"#instance-{first.id}")
    second_card = frame.locator(f"#instance-{second.id}")
    await expect(first_card.locator(".badge-default")).to_have_text("Número padrão")
    await expect(first_card.get_by_role("button", name="Tornar padrão")).to_have_count(0)
    await second_card.get_by_role("button", name="Tornar padrão").click()
    await expect(second_card.locator(".badge-default")).to_have_text("Número padrão")
    await expect(first_card.locator(".badge-default")).to_have_count(0)
    assert (await Instance.get(id=second.id)).is_default
    assert not (await Instance.get(id=first.id)).is_default
