"""WhatsApp's servers and the phones, for tests that run the app as several OS processes.

Each engine, in whichever process, opens the fixture WhatsApp Web page from this hub's loopback
server (point `WA_WEB_URL` at `hub.wa_web_url()`). The page is the demo's copy
(ghl_app/demo/static/wa.html + phone-link.js): it reports its state every 400 ms to
`/demo/wa/report` on its own origin and runs the commands queued for it (scan, deliver, ack), so
no test needs a DevTools handle on a Chromium that lives in another process.

On top of the demo's PhoneHub, `PhoneHubServer` keeps what a multi-process test asserts on:
- a record per page and linked phone (the "device"): when the page first and last reported
  while linked, split where it stopped reporting for longer than `GAP_SECONDS` (a page whose
  process tree was SIGSTOPped and later SIGCONTed is alive again only from its next report);
- `max_concurrent(device)`: the most pages of one device alive at the same moment, from those
  intervals; a page that stops reporting ended at its last report;
- inbound messages wait for the device, not for one page: WhatsApp's servers hold a message
  until a device of the account is online, so a message sent while the owning worker is dead
  is handed to the first page of that device that reports after it, on any worker; and one
  handed to a page that falls silent before acknowledging it (its next report) is handed
  again, with the same message id, to the device's next page (at-least-once, as WhatsApp
  redelivers what a device did not acknowledge).

The hub runs in its own thread with its own event loop, so a test that blocks (a subprocess
wait, a SIGSTOPped peer) never stalls the pages' reports; every method here is thread-safe.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from ghl_app.demo.phone import ChatLine, PhoneHub, _digits, phone_routes
from support.app_server import free_port

# A page silent for longer than this was not alive in between (reports come every 400 ms;
# a loaded box delays a few, a frozen or dead process stops them).
GAP_SECONDS = 2.0


@dataclass
class PageRecord:
    """One page's life as a linked device, as the hub saw it (monotonic hub times)."""

    page_id: str
    device: str  # the linked phone's digits
    intervals: list[list[float]] = field(default_factory=list)  # [first, last] report

    @property
    def first(self) -> float:
        return self.intervals[0][0]

    @property
    def last(self) -> float:
        return self.intervals[-1][1]

    def seen(self, at: float) -> None:
        if self.intervals and at - self.intervals[-1][1] <= GAP_SECONDS:
            self.intervals[-1][1] = at
        else:
            self.intervals.append([at, at])


@dataclass(frozen=True)
class WaitingPage:
    """A page showing a QR now: its id, the QR's ref and the full QR text (wa-js's fullCode,
    which the app hands out as `qr.code`)."""

    page_id: str
    ref: str
    code: str


@dataclass(frozen=True)
class Overlap:
    """Two pages of one device alive together from `start` (hub monotonic time) for
    `seconds`."""

    page_a: str
    page_b: str
    start: float
    seconds: float


class RecordingPhoneHub(PhoneHub):
    """The demo's PhoneHub with a lock (the hub's server thread and the test both call it), the
    page records and a per-device inbox."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()
        self.records: dict[tuple[str, str], PageRecord] = {}
        self.codes: dict[str, str] = {}  # page id -> the QR text it shows
        self.qr_first_shown: dict[str, float] = {}  # page id -> when it first showed a QR
        self.inbox: dict[str, list[dict[str, Any]]] = {}  # device -> deliveries not handed out
        # page id -> (device, deliveries handed to it that it has not yet acknowledged).
        self.in_flight: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        self.handed: dict[str, int] = {}  # device -> deliveries handed to a page, redeliveries too
        self._next_id = 0

    def report(self, page_id: str, state: dict[str, Any], sent: list[dict[str, Any]]) -> list[Any]:
        with self.lock:
            # phone-link.js runs every command of an answer before it schedules its next
            # report: this report acknowledges what the last answer handed to this page.
            self.in_flight.pop(page_id, None)
            commands = super().report(page_id, state, sent)
            page = self.pages[page_id]
            auth = state.get("authCode") or {}
            if page.qr_ref:
                self.qr_first_shown.setdefault(page_id, page.seen)
            if page.qr_ref and auth.get("fullCode"):
                self.codes[page_id] = str(auth["fullCode"])
            else:
                self.codes.pop(page_id, None)
            if page.linked:
                key = (page_id, page.linked)
                record = self.records.setdefault(key, PageRecord(page_id, page.linked))
                record.seen(page.seen)
                if state.get("mainReady"):
                    self._take_back_unacknowledged(page.linked)
                    waiting = self.inbox.pop(page.linked, [])
                    if waiting:
                        self.in_flight[page_id] = (page.linked, waiting)
                        self.handed[page.linked] = self.handed.get(page.linked, 0) + len(waiting)
                        commands.extend(waiting)
            return commands

    def _take_back_unacknowledged(self, device: str) -> None:
        """WhatsApp's server redelivers what a device never acknowledged, with the same message
        id, once the device is back (or another session of it is): deliveries handed to a page
        of this device that went silent go back to the head of the device's inbox, in order.
        A page that ran them and died before its next report shows the app a message twice,
        with one id (the app stores a message once per id: models.py, unique wa_message_id)."""
        now = time.monotonic()
        for page_id, (owner, handed) in list(self.in_flight.items()):
            page = self.pages.get(page_id)
            if owner == device and (page is None or now - page.seen > GAP_SECONDS):
                del self.in_flight[page_id]
                self.inbox[device] = handed + self.inbox.get(device, [])

    def pending(self, device: str) -> int:
        """Deliveries for this device not yet acknowledged by a page (waiting or in flight)."""
        with self.lock:
            in_flight = sum(len(h) for owner, h in self.in_flight.values() if owner == device)
            return len(self.inbox.get(device, [])) + in_flight

    def live_pages(self) -> list[Any]:
        with self.lock:
            return super().live_pages()

    def scan(self, page_id: str, phone: str) -> None:
        with self.lock:
            super().scan(page_id, phone)

    def send(self, linked: str, customer: str, name: str, text: str) -> None:
        """A customer's message to `linked`: queued for the device (see the module's doc)."""
        self.send_message(linked, customer, name, text)

    def send_message(self, linked: str, customer: str, name: str, text: str) -> str:
        """`send`, returning the message's WhatsApp id (stable across redeliveries)."""
        device = _digits(linked)
        with self.lock:
            if not any(r.device == device for r in self.records.values()):
                raise LookupError(f"no page was ever linked to +{device}")
            chat = _digits(customer)
            self.names[chat] = name
            self._next_id += 1
            # An id of the hub's own, upper-case hex like the fixture's (its `newId`), unique
            # per message: the fixture keeps it as the MsgKey id, so a redelivery carries it.
            message_id = f"{self._next_id:08X}{os.urandom(6).hex().upper()}"
            opts = {"from": chat, "body": text, "notifyName": name, "id": message_id}
            self.inbox.setdefault(device, []).append({"op": "deliver", "opts": opts})
            self.lines.setdefault(device, []).append(ChatLine(chat, name, text, True, time.time()))
            return message_id

    def read_open_chat(self, number: str) -> None:
        with self.lock:
            super().read_open_chat(number)

    def view(self) -> dict[str, Any]:
        with self.lock:
            return super().view()


class PhoneHubServer:
    """The hub on 127.0.0.1:<port>, served from a thread. Use as `with phone_hub() as hub:`."""

    def __init__(self) -> None:
        self.hub = RecordingPhoneHub()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(routes=[Mount("/demo", routes=phone_routes(self.hub))])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="phone-hub", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the phone hub did not start")
            time.sleep(0.02)

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    # -- what the app is pointed at ----------------------------------------------------------

    def wa_web_url(self, **query: Any) -> str:
        """The `WA_WEB_URL` for the app: the demo's self-driving fixture page on this hub.
        Query parameters go to the fixture (`qr_first_ms`, `qr_ms`, `qr_max`, `auto_ack`...)."""
        qs = f"?{urlencode(query)}" if query else ""
        return f"{self.url}/demo/wa/{qs}"

    # -- the phones ----------------------------------------------------------------------------

    def waiting_pages(self) -> list[WaitingPage]:
        """The pages showing a QR now."""
        with self.hub.lock:
            return [
                WaitingPage(p.page_id, p.qr_ref, self.hub.codes.get(p.page_id, ""))
                for p in self.hub.live_pages()
                if p.qr_ref
            ]

    def page_showing(self, qr_code: str) -> str:
        """The id of the live page showing this QR (its full text, or just its ref)."""
        ref = qr_code.split(",", 1)[0]
        for page in self.waiting_pages():
            if page.ref == ref:
                return page.page_id
        raise LookupError(f"no live page shows the QR {ref[-8:]} (rotated, or not reported yet)")

    def scan(self, qr_code_or_page: str, phone: str) -> str:
        """A phone scans a QR: given the QR text the app showed (`qr.code`) or a page id.
        Returns the page id. The page links on its next report (within ~400 ms)."""
        with self.hub.lock:
            if any(p.page_id == qr_code_or_page for p in self.hub.live_pages()):
                page_id = qr_code_or_page
            else:
                page_id = self.page_showing(qr_code_or_page)
            self.hub.scan(page_id, phone)
        return page_id

    async def scan_when_shown(self, qr_code: str, phone: str, timeout: float = 10.0) -> str:
        """`scan`, once a page reported showing that QR (the app may show it before the hub
        heard of it: reports come every 400 ms)."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    return self.scan(qr_code, phone)
                except LookupError:
                    await asyncio.sleep(0.1)

    def deliver(self, linked_phone: str, customer: str, text: str, name: str = "") -> str:
        """A customer writes to the linked number: held for the device, handed to its next live
        page (as WhatsApp's servers hold messages for an offline device), handed again to the
        device's next page if the page it went to falls silent before acknowledging it.
        Returns the message's WhatsApp id."""
        return self.hub.send_message(linked_phone, customer, name, text)

    def undelivered(self, linked_phone: str) -> int:
        """Messages for this device no page has acknowledged yet."""
        return self.hub.pending(_digits(linked_phone))

    # -- what the tests assert on ---------------------------------------------------------------

    def pages_of(self, device: str, *, alive_within: float | None = None) -> list[PageRecord]:
        """Every page ever linked to this device, first seen first; with `alive_within`, only
        those that reported within that many seconds."""
        now = time.monotonic()
        digits = _digits(device)
        with self.hub.lock:
            pages = [
                PageRecord(r.page_id, r.device, [list(i) for i in r.intervals])
                for r in self.hub.records.values()
                if r.device == digits
            ]
        if alive_within is not None:
            pages = [p for p in pages if now - p.last <= alive_within]
        return sorted(pages, key=lambda p: p.first)

    async def wait_linked(self, device: str, timeout: float = 10.0) -> list[PageRecord]:
        """The pages of this device alive now, once at least one reported linked (the app may
        report a link before the page's next report reaches the hub)."""
        async with asyncio.timeout(timeout):
            while not (pages := self.pages_of(device, alive_within=GAP_SECONDS)):
                await asyncio.sleep(0.1)
        return pages

    def qr_pages_since(self, since: float) -> list[str]:
        """The pages that first showed a QR at or after `since` (a `time.monotonic()` of this
        process, e.g. taken just before a kill): a failover "without a new QR" leaves none."""
        with self.hub.lock:
            return [p for p, at in self.hub.qr_first_shown.items() if at >= since]

    def max_concurrent(self, device: str) -> int:
        """The most pages of this device alive at the same moment, over the whole run."""
        points: list[tuple[float, int]] = []
        for page in self.pages_of(device):
            for start, end in page.intervals:
                points += [(start, 1), (end, -1)]
        # At equal times a start counts before an end: two pages that both reported at one
        # instant were both alive then.
        points.sort(key=lambda point: (point[0], -point[1]))
        most = alive = 0
        for _at, step in points:
            alive += step
            most = max(most, alive)
        return most

    def overlaps(self, device: str) -> list[Overlap]:
        """Every pair of this device's pages alive at the same time, and for how long (0.0:
        both reported at one instant)."""
        spans = [(p.page_id, s, e) for p in self.pages_of(device) for s, e in p.intervals]
        found: list[Overlap] = []
        for i, (page_a, start_a, end_a) in enumerate(spans):
            for page_b, start_b, end_b in spans[i + 1 :]:
                if page_a != page_b and start_a <= end_b and start_b <= end_a:
                    both = max(start_a, start_b)
                    found.append(Overlap(page_a, page_b, both, min(end_a, end_b) - both))
        return found

    def devices(self) -> list[str]:
        with self.hub.lock:
            return sorted({r.device for r in self.hub.records.values()})


@contextmanager
def phone_hub() -> Iterator[PhoneHubServer]:
    server = PhoneHubServer()
    server.start()
    try:
        yield server
    finally:
        server.close()
