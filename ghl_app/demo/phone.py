"""The simulated phone: the other end of the fixture WhatsApp Web page each engine opens.

In the tests a Playwright handle drives the page's `window.__fixture` (tests/support/
wa_fixture.py). In the demo nobody holds such a handle, so the page drives itself: the demo's
copy of the page loads `phone-link.js`, which reports the page's state (its QR, the linked
phone, what the app sent through it) to `/demo/wa/report` and runs the commands the simulated
phone queued for it there (scan, a customer's message). Everything stays on the demo's one
loopback port.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ghl_app.demo.paths import FIXTURE_WA_DIR, STATIC_DIR

log = logging.getLogger("ghl_app.demo")

# A page that has not reported for this long is gone (its engine stopped or reloaded it).
STALE_SECONDS = 5.0
MAX_TEXT = 4096


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value.split("@", 1)[0].split(":", 1)[0])


@dataclass
class EnginePage:
    page_id: str
    seen: float
    linked: str | None = None  # the linked phone's digits
    qr_ref: str | None = None  # the QR on screen, while one is
    commands: list[dict[str, Any]] = field(default_factory=list)
    # What the app sent through this page (the fixture's `sent()`), with when it was first seen.
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ChatLine:
    chat: str  # the customer's digits
    name: str
    text: str
    from_customer: bool
    at: float
    message_id: str = ""  # a reply's id in the fixture page, for its receipts
    read: bool = False


class PhoneHub:
    """The state behind the simulated phone: the engine pages and the chats through them."""

    def __init__(self) -> None:
        self.pages: dict[str, EnginePage] = {}
        self.lines: dict[str, list[ChatLine]] = {}  # linked phone digits -> its chat lines
        self.names: dict[str, str] = {}  # customer digits -> the name they chat under

    def live_pages(self) -> list[EnginePage]:
        now = time.monotonic()
        for page_id in [p for p, page in self.pages.items() if now - page.seen > STALE_SECONDS]:
            del self.pages[page_id]
        return list(self.pages.values())

    def report(self, page_id: str, state: dict[str, Any], sent: list[dict[str, Any]]) -> list[Any]:
        page = self.pages.get(page_id) or EnginePage(page_id, time.monotonic())
        self.pages[page_id] = page
        page.seen = time.monotonic()
        linked = state.get("linked") or {}
        page.linked = _digits(str(linked["wid"])) if linked.get("wid") else None
        auth = state.get("authCode") or {}
        page.qr_ref = str(auth["ref"]) if auth.get("ref") and page.linked is None else None
        for item in sent:
            if item.get("id") in page.sent or item.get("body") is None:
                continue
            page.sent[str(item["id"])] = item
            if page.linked:
                chat = _digits(str(item.get("chat_id", "")))
                name = self.names.get(chat, "")
                line = ChatLine(chat, name, str(item["body"]), False, time.time(), str(item["id"]))
                self.lines.setdefault(page.linked, []).append(line)
                # The customer's phone got it: the delivery receipt (ack 2, MsgAck RECEIVED).
                page.commands.append({"op": "ack", "ids": [line.message_id], "level": 2})
        commands, page.commands = page.commands, []
        return commands

    def scan(self, page_id: str, phone: str) -> None:
        page = self._page(page_id)
        if page.linked or not page.qr_ref:
            raise LookupError("that device shows no QR code")
        page.commands.append({"op": "scan", "phone": _digits(phone)})
        log.info("demo phone: scanned the QR of device %s as +%s", page_id, _digits(phone))

    def send(self, linked: str, customer: str, name: str, text: str) -> None:
        page = next((p for p in self.live_pages() if p.linked == _digits(linked)), None)
        if page is None or page.linked is None:
            raise LookupError("no linked number with that phone")
        chat = _digits(customer)
        self.names[chat] = name
        opts = {"from": chat, "body": text, "notifyName": name}
        page.commands.append({"op": "deliver", "opts": opts})
        self.lines.setdefault(page.linked, []).append(ChatLine(chat, name, text, True, time.time()))
        log.info("demo phone: customer +%s wrote to +%s", chat, page.linked)

    def _page(self, page_id: str) -> EnginePage:
        page = next((p for p in self.live_pages() if p.page_id == page_id), None)
        if page is None:
            raise LookupError("no such device")
        return page

    def read_open_chat(self, number: str) -> None:
        """The phone shows this number's chat: its replies not yet read get the read receipt
        (ack 3, MsgAck READ)."""
        page = next((p for p in self.live_pages() if p.linked == _digits(number)), None)
        if page is None or page.linked is None:
            return
        unread = [ln for ln in self.lines.get(page.linked, []) if ln.message_id and not ln.read]
        for line in unread:
            line.read = True
        if unread:
            page.commands.append({"op": "ack", "ids": [ln.message_id for ln in unread], "level": 3})

    def view(self) -> dict[str, Any]:
        pages = self.live_pages()
        return {
            "waiting": [{"id": p.page_id, "qr": p.qr_ref[-8:]} for p in pages if p.qr_ref],
            "numbers": sorted({p.linked for p in pages if p.linked}),
            "chats": {
                number: [
                    {"chat": ln.chat, "name": ln.name, "text": ln.text, "in": ln.from_customer}
                    for ln in lines
                ]
                for number, lines in self.lines.items()
            },
        }


def _error(code: str, message: str, status: int = 400) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def phone_routes(hub: PhoneHub) -> list[Route]:
    async def report(request: Request) -> Response:
        body = await _json(request)
        if body is None or not isinstance(body.get("page_id"), str):
            log.info("demo phone: a report without page_id refused")
            return _error("bad_report", "page_id, state and sent expected")
        state = body.get("state") if isinstance(body.get("state"), dict) else {}
        sent = [s for s in body.get("sent") or [] if isinstance(s, dict)]
        return JSONResponse({"commands": hub.report(body["page_id"][:64], state or {}, sent)})

    async def scan(request: Request) -> Response:
        body = await _json(request) or {}
        try:
            hub.scan(str(body.get("device", "")), str(body.get("phone", "")))
        except LookupError as exc:
            log.info("demo phone: scan refused: %s", exc)
            return _error("no_device", str(exc), 404)
        return JSONResponse({"ok": True})

    async def send(request: Request) -> Response:
        body = await _json(request) or {}
        text = str(body.get("text") or "").strip()
        customer = str(body.get("from") or "")
        if not text or len(text) > MAX_TEXT or not 8 <= len(_digits(customer)) <= 15:
            log.info("demo phone: message refused (no text, too long, or a bad phone)")
            return _error("bad_message", "a text and the customer's phone (8-15 digits) needed")
        name = str(body.get("name") or "").strip()[:80]
        try:
            hub.send(str(body.get("to", "")), customer, name, text)
        except LookupError as exc:
            log.info("demo phone: message refused: %s", exc)
            return _error("no_number", str(exc), 404)
        return JSONResponse({"ok": True})

    async def state(request: Request) -> Response:
        if request.query_params.get("open"):
            hub.read_open_chat(request.query_params["open"])
        return JSONResponse(hub.view())

    def static(path: Path, media_type: str) -> Any:
        async def serve(_request: Request) -> Response:
            return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-store"})

        return serve

    return [
        Route("/wa/", static(STATIC_DIR / "wa.html", "text/html"), methods=["GET"]),
        Route("/wa/fake-wpp.js", static(FIXTURE_WA_DIR / "fake-wpp.js", "text/javascript")),
        Route("/wa/phone-link.js", static(STATIC_DIR / "phone-link.js", "text/javascript")),
        Route("/wa/report", report, methods=["POST"]),
        Route("/phone", static(STATIC_DIR / "phone.html", "text/html"), methods=["GET"]),
        Route("/phone/state", state, methods=["GET"]),
        Route("/phone/scan", scan, methods=["POST"]),
        Route("/phone/send", send, methods=["POST"]),
    ]
