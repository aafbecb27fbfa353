"""Errors the page shows are in the page's language: an engine error without a known code reads
as a generic Portuguese text on a pt-BR page, with the server's English message only as a
secondary detail; and every error code the server sends to the page has catalogue texts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from page.ghl_parent import GhlParent
from page.sso_support import install_location, user_context
from playwright.async_api import Browser, expect

from ghl_app.models import Instance, InstanceStatus
from ghl_app.settings import Settings
from ghl_app.sso import encrypt_like_ghl
from support.app_server import RunningApp
from web import i18n

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# Where the page's API, WebSocket and sign-in raise their errors (the GHL webhooks, which
# answer GHL and never the page, are left out).
PAGE_ERROR_SOURCES = [
    "web/api_instances.py",
    "web/api_messages.py",
    "web/auth.py",
    "web/errors.py",
    "web/page.py",
    "web/ws.py",
    "ghl_app/sso.py",
    "ghl_app/page_tokens.py",
    "ghl_app/jobs/queue.py",
    "ghl_app/sessions/manager.py",
    "ghl_app/sessions/state.py",
]


async def test_an_engine_error_without_a_known_code_reads_in_portuguese(
    framed_settings: Settings, framed_app: RunningApp, ghl_parent: GhlParent, browser: Browser
) -> None:
    await install_location("loc-a")
    engine_message = "WhatsApp could not be started: Target page, context or browser closed"
    await Instance.create(
        location_id="loc-a", name="Vendas", status=InstanceStatus.FAILED, last_error=engine_message
    )
    await Instance.create(
        location_id="loc-a",
        name="Suporte",
        status=InstanceStatus.FAILED,
        last_error="wa_exploded: something nobody catalogued",
    )
    await Instance.create(
        location_id="loc-a",
        name="Recepção",
        status=InstanceStatus.LOGGED_OUT,
        last_error="The phone removed this linked device. Start again and scan a new QR code.",
    )
    ghl_parent.payload = encrypt_like_ghl(framed_settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale="pt-BR")
    await page.goto(ghl_parent.url)
    frame = page.frame_locator("#ghl-app")
    await expect(frame.locator("html")).to_have_attribute("lang", "pt-BR")

    generic = "Último erro: O WhatsApp parou por causa de um erro no servidor."
    cards = frame.get_by_role("listitem")
    vendas = cards.filter(has_text="Vendas")
    await expect(vendas.get_by_role("alert")).to_have_text(generic)
    detail = vendas.locator(".error-detail")
    await expect(detail).to_have_text(f"Detalhes do servidor (em inglês): {engine_message}")
    await expect(detail).to_have_attribute("lang", "en")
    await expect(cards.filter(has_text="Suporte").get_by_role("alert")).to_have_text(generic)
    await expect(cards.filter(has_text="Recepção").get_by_role("alert")).to_have_text(
        "Último erro: O celular desconectou este aparelho."
    )

    # The same card in English: the text follows the language switch.
    await frame.locator("#lang-switch").select_option("en")
    await expect(vendas.get_by_role("alert")).to_have_text(
        "Last error: WhatsApp stopped because of an error on the server."
    )


async def test_whatsapps_own_disconnect_reasons_read_in_the_pages_language(
    framed_settings: Settings, framed_app: RunningApp, ghl_parent: GhlParent, browser: Browser
) -> None:
    """A number WhatsApp's stream took down (issue 12) says why, in Portuguese, on its card."""
    await install_location("loc-a")
    await Instance.create(
        location_id="loc-a",
        name="Vendas",
        status=InstanceStatus.DISCONNECTED,
        last_error="offline: WhatsApp cannot be reached (no internet on the phone or this server)",
    )
    await Instance.create(
        location_id="loc-a",
        name="Suporte",
        status=InstanceStatus.FAILED,
        last_error="not_ready: WhatsApp Web did not finish loading within 180 s. WhatsApp Web"
        " may have changed: update the app, or start the number again later.",
    )
    ghl_parent.payload = encrypt_like_ghl(framed_settings.ghl_shared_secret, user_context())
    page = await browser.new_page(locale="pt-BR")
    await page.goto(ghl_parent.url)
    frame = page.frame_locator("#ghl-app")
    cards = frame.get_by_role("listitem")
    await expect(cards.filter(has_text="Vendas").get_by_role("alert")).to_have_text(
        "Último erro: Não foi possível falar com o WhatsApp: verifique a internet do celular."
        " Ele volta sozinho."
    )
    await expect(cards.filter(has_text="Suporte").get_by_role("alert")).to_contain_text(
        "O WhatsApp Web não terminou de carregar."
    )


def _codes_raised(source: str) -> set[str]:
    text = (ROOT / source).read_text()
    codes = set(
        re.findall(r'(?:AppError|error_response|self\.error)\(\s*[\w, ]*?"([a-z_]+)"', text)
    )
    codes |= set(re.findall(r'\.get\(exc\.status_code, "([a-z_]+)"\)', text))
    codes |= set(re.findall(r'\d{3}: "([a-z_]+)"', text))
    return codes


def test_every_error_code_the_page_can_receive_has_texts_in_both_languages() -> None:
    codes = set().union(*(_codes_raised(source) for source in PAGE_ERROR_SOURCES))
    codes |= {"generic", "network"}  # the page's own, for failures before any answer
    assert {"not_found", "max_sessions", "invalid_token", "internal_error"} <= codes
    for locale in i18n.SUPPORTED:
        catalogue = i18n.catalogue(locale)
        missing = {code for code in codes if f"error.{code}" not in catalogue}
        assert not missing, (locale, missing)
        assert "instance.error.unknown" in catalogue and "error.detail" in catalogue


def test_every_coded_engine_error_of_an_instance_has_texts_in_both_languages() -> None:
    source = (ROOT / "ghl_app/sessions/manager.py").read_text()
    codes = set(re.findall(r'last_error=f?"([a-z_]+): ', source))
    codes |= set(re.findall(r'reason = f?"([a-z_]+): ', source))  # the readiness watchdog's
    # WhatsApp's connection reasons (connectors/_health.py: STREAM_DOWN and the constants).
    stream = (ROOT / "connectors/_health.py").read_text()
    codes |= set(re.findall(r'^\s+"[A-Z_]+": "([a-z_]+): ', stream, re.MULTILINE))
    codes |= set(re.findall(r'^[A-Z_]+ = "([a-z_]+): ', stream, re.MULTILINE))
    assert {"qr_timeout", "not_ready", "offline", "conflict", "banned"} <= codes
    for locale in i18n.SUPPORTED:
        catalogue = i18n.catalogue(locale)
        missing = {
            c
            for c in codes
            if f"instance.error.{c}" not in catalogue and f"error.{c}" not in catalogue
        }
        assert not missing, (locale, missing)
