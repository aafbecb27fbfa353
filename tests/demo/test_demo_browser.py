"""`ghl-whatsapp demo` end to end in real Chromium, as someone trying the app would use it:
open the printed URL, see the sub-account page inside the GHL-like frame, connect a number by
scanning with the simulated phone, write from the phone, see it in the fake GHL's Conversations,
reply there, and see the reply on the phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo.conftest import DemoProcess
from playwright.async_api import Browser, expect

pytestmark = pytest.mark.browser

# For people to look at (git-ignored), as the page tests leave theirs.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


async def test_demo_links_a_number_and_carries_a_chat_both_ways(
    demo: DemoProcess, browser: Browser
) -> None:
    assert demo.url.startswith("http://127.0.0.1:")
    page = await browser.new_page()
    await page.goto(demo.url)
    await expect(page.get_by_text("DEMO", exact=True)).to_be_visible()

    # Our page, signed in by GHL's SSO answer from the frame.
    app = page.frame_locator("#ghl-app")
    await expect(app.get_by_text("No WhatsApp numbers yet.")).to_be_visible(timeout=20_000)
    # Our page says it is a demo, in both languages.
    banner = app.get_by_role("note")
    await expect(banner).to_contain_text("DEMO: a fake GoHighLevel and a simulated phone")
    await app.locator("#lang-switch").select_option("pt-BR")
    await expect(banner).to_contain_text("DEMONSTRAÇÃO: um GoHighLevel falso e um celular simulado")
    await app.locator("#lang-switch").select_option("en")
    await app.get_by_label("Name for a new number").fill("Sales")
    await app.get_by_role("button", name="Add number").click()
    card = app.get_by_role("listitem").filter(has_text="Sales")
    await card.get_by_role("button", name="Connect", exact=True).click()
    await expect(card.get_by_role("img", name="QR code to link WhatsApp")).to_be_visible(
        timeout=30_000
    )

    # The simulated phone sees the device waiting and scans it.
    phone = page.frame_locator("#phone")
    await expect(phone.get_by_text("DEMO", exact=False).first).to_be_visible()
    waiting = phone.get_by_role("list", name="Devices waiting for a scan")
    await waiting.get_by_role("button", name="Scan").click(timeout=20_000)
    await expect(card.get_by_text("Connected: +55 11 90000-0001")).to_be_visible(timeout=30_000)

    # A customer writes from the phone.
    await expect(phone.locator("#to-number")).to_have_value("5511900000001", timeout=10_000)
    await phone.get_by_label("Customer name").fill("Maria Silva")
    await phone.get_by_label("Customer phone").fill("+55 11 98888-7777")
    await phone.get_by_label("Message").fill("Hello from the demo phone")
    await phone.get_by_role("button", name="Send from phone").click()

    # It lands in the fake GHL's Conversations.
    await page.get_by_role("button", name="Conversations").click()
    ghl = page.frame_locator("#ghl-conversations")
    conversation = ghl.get_by_role("list", name="Conversations").get_by_role("button")
    await expect(conversation.filter(has_text="Maria Silva")).to_be_visible(timeout=30_000)
    messages = ghl.get_by_role("list", name="Messages")
    await expect(messages.get_by_text("Hello from the demo phone")).to_be_visible()

    # A reply typed there goes out through the app's outbound webhook to the phone.
    await ghl.get_by_label("Reply").fill("Hi Maria, reply from GHL")
    await ghl.get_by_role("button", name="Send reply").click()
    log = phone.get_by_role("list", name="Chat on the phone")
    await expect(log.get_by_text("← Hi Maria, reply from GHL")).to_be_visible(timeout=30_000)
    # The phone shows it, so its read receipt comes back to GHL as the message's status.
    await expect(messages.get_by_text("Hi Maria, reply from GHL · read")).to_be_visible(
        timeout=30_000
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "demo-conversations.png")
    await page.get_by_role("button", name="WhatsApp").click()
    await page.screenshot(path=SCREENSHOTS / "demo-whatsapp.png")

    # The demo's own pages switch to Portuguese together, from the frame.
    await page.locator("#demo-lang").select_option("pt-BR")
    await expect(page.get_by_role("button", name="Conversas")).to_be_visible()
    await expect(phone.get_by_role("button", name="Enviar do celular")).to_be_visible()
    await expect(ghl.locator("#reply-send")).to_have_text("Enviar resposta")
    await page.screenshot(path=SCREENSHOTS / "demo-whatsapp-pt-BR.png")
