"""A number's settings in one place in the page (issue 16): groups, notes language, read sync,
calls, pacing, "typing…" and the ignore list, read from the server and saved, in both
languages. Real Chromium in the GHL iframe, the app over HTTP, a real SQLite file."""

from __future__ import annotations

import pytest
from page.ghl_parent import GhlParent
from page.sso_support import install_location, user_context
from playwright.async_api import Browser, expect

from ghl_app.bridge import number_settings
from ghl_app.models import Instance
from ghl_app.settings import Settings
from ghl_app.sso import encrypt_like_ghl
from support.app_server import RunningApp

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("locale", "open_button", "language_label", "calls_label", "ignore_label", "saved"),
    [
        (
            "en-US",
            "Settings",
            "Language of the notes in GoHighLevel (reactions, edits, calls…)",
            "Decline WhatsApp calls automatically",
            "Chats to leave out (one phone number or chat id a line)",
            "Settings saved.",
        ),
        (
            "pt-BR",
            "Configurações",
            "Idioma das notas no GoHighLevel (reações, edições, chamadas…)",
            "Recusar chamadas do WhatsApp automaticamente",
            "Conversas a deixar de fora (um telefone ou id de conversa por linha)",
            "Configurações salvas.",
        ),
    ],
)
async def test_a_numbers_settings_are_read_and_saved_in_one_panel(
    framed_settings: Settings,
    framed_app: RunningApp,
    ghl_parent: GhlParent,
    browser: Browser,
    locale: str,
    open_button: str,
    language_label: str,
    calls_label: str,
    ignore_label: str,
    saved: str,
) -> None:
    await install_location("loc-a")
    instance = await Instance.create(
        location_id="loc-a", name="Vendas", event_settings={"notes_language": "en"}
    )
    ghl_parent.payload = encrypt_like_ghl(framed_settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale=locale)
    frame = page.frame_locator("#ghl-app")
    await page.goto(ghl_parent.url)
    card = frame.locator(f"#instance-{instance.id}")
    await card.get_by_role("button", name=open_button, exact=True).click()
    panel = frame.locator(f"#settings-{instance.id}")
    language = panel.get_by_label(language_label)
    await expect(language).to_have_value("en")
    await expect(panel.get_by_label(calls_label)).not_to_be_checked()
    await language.select_option("pt-BR")
    await panel.get_by_label(calls_label).check()
    await panel.locator("textarea[name=call_reply]").fill("Só por mensagem, por favor.")
    await panel.locator("input[name=pacing_per_minute]").fill("12")
    await panel.locator("input[name=groups_enabled]").check()
    await panel.get_by_label(ignore_label).fill("+55 11 95555-4444\n120363000000000001@g.us")
    await panel.locator("button[type=submit]").click()
    await expect(panel.locator(".settings-status")).to_have_text(saved)
    row = await Instance.get(id=instance.id)
    stored = number_settings.from_stored(row.event_settings)
    assert stored.notes_language == "pt-BR" and stored.reject_calls
    assert stored.call_reply == "Só por mensagem, por favor."
    assert stored.pacing_per_minute == 12 and stored.pacing_min_gap_s is None
    assert stored.ignored_chats == ("+5511955554444", "120363000000000001@g.us")
    assert stored.read_sync and row.groups_enabled


async def test_a_bad_value_is_told_in_the_page_and_nothing_is_saved(
    framed_settings: Settings, framed_app: RunningApp, ghl_parent: GhlParent, browser: Browser
) -> None:
    await install_location("loc-a")
    instance = await Instance.create(location_id="loc-a", name="Vendas")
    ghl_parent.payload = encrypt_like_ghl(framed_settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale="pt-BR")
    frame = page.frame_locator("#ghl-app")
    await page.goto(ghl_parent.url)
    await (
        frame.locator(f"#instance-{instance.id}")
        .get_by_role("button", name="Configurações", exact=True)
        .click()
    )
    panel = frame.locator(f"#settings-{instance.id}")
    await panel.locator("textarea[name=ignored_chats]").fill("não é um telefone")
    await panel.locator("button[type=submit]").click()
    await expect(panel.locator(".settings-status")).to_have_text(
        "Essa configuração tem um valor inválido."
    )
    assert (await Instance.get(id=instance.id)).event_settings in ({}, None)
