"""The default engine: WhatsApp Web in Chromium, driven through Playwright and wa-js.

One persistent Chromium profile per instance (docs/whatsapp-web.md: WhatsApp Web keeps
non-extractable keys in IndexedDB, so only the profile folder carries a login). Page events come
in through one binding and are delivered to the sink, in order, by one dispatcher task.
Launching and opening the page live in `_startup.py`; reading the page's events in
`_page_state.py`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import BrowserContext, ConsoleMessage, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from connectors import _processes, _profile, _startup
from connectors._page_state import LoginState, MessageMemory, translate
from connectors._startup import PlaywrightConfig
from connectors.base import Engine, EngineError, Media, ResolvedId, SentMessage
from connectors.events import Disconnected, EngineEvent, EventSink, PairingCode, WaProblem

__all__ = ["PlaywrightConfig", "PlaywrightEngine"]

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 5.0
_COMMAND_TIMEOUT_S = 60.0


@dataclass(slots=True)
class _Run:
    """Everything that lives exactly as long as one browser launch."""

    playwright: Playwright | None  # set when this engine owns its driver
    context: BrowserContext
    page: Page
    browser_pid: int | None
    driver_pid: int | None
    queue: asyncio.Queue[EngineEvent | None]
    login: LoginState = field(default_factory=LoginState)
    lost: bool = False


class PlaywrightEngine:
    def __init__(
        self,
        instance_id: str,
        profile_dir: Path,
        sink: EventSink,
        config: PlaywrightConfig,
        *,
        playwright: Playwright | None = None,
    ) -> None:
        """`playwright`: a driver shared and owned by the caller; else the engine runs its own."""
        self.instance_id = instance_id
        self.profile_dir = profile_dir.resolve()
        self._sink = sink
        self._config = config
        self._shared_playwright = playwright
        self._run: _Run | None = None
        self._stopping = False
        self._lifecycle = asyncio.Lock()
        # Outlives a lost run until it has delivered the Disconnected event.
        self._dispatcher: asyncio.Task[None] | None = None
        self._cleanup_task: asyncio.Task[None] | None = None
        self._memory = MessageMemory()

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._run is not None and not self._run.lost

    @property
    def page(self) -> Page:
        """The WhatsApp Web page. For tests and diagnostics only; commands use the methods."""
        if self._run is None:
            raise EngineError("not_running")
        return self._run.page

    async def start(self) -> None:
        await self._drain_events()
        async with self._lifecycle:
            if self._run is not None:
                if not self._run.lost:
                    return
                await self._shutdown()
            self._stopping = False
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            _profile.clear_stale_lock(self.profile_dir)
            owned: Playwright | None = None
            context: BrowserContext | None = None
            try:
                if self._shared_playwright is None:
                    owned = await async_playwright().start()
                context = await self._launch(owned or self._shared_playwright)
                await self._begin(context, owned)
            except BaseException:
                await self._abort_start(context, owned)
                raise

    async def _launch(self, playwright: Playwright | None) -> BrowserContext:
        assert playwright is not None
        return await _startup.launch(playwright, self.profile_dir, self._config)

    async def _begin(self, context: BrowserContext, owned: Playwright | None) -> None:
        queue: asyncio.Queue[EngineEvent | None] = asyncio.Queue()
        page = context.pages[0] if context.pages else await context.new_page()
        run = _Run(
            playwright=owned,
            context=context,
            page=page,
            browser_pid=None,
            driver_pid=None,
            queue=queue,
        )
        self._run = run
        self._dispatcher = asyncio.create_task(
            self._dispatch(queue), name=f"wa-engine-events:{self.instance_id}"
        )
        page.on("console", lambda message: self._on_console(run, message))
        page.on("crash", lambda _page: self._lose(run, "page_crashed"))
        page.on("close", lambda _page: self._lose(run, "page_closed"))
        context.on("close", lambda _ctx: self._lose(run, "browser_closed"))
        # Scanning /proc for the browser takes ~10-100 ms of CPU: in a thread, while the page loads.
        find_pids = asyncio.ensure_future(self._find_pids(run, owned is not None))
        try:
            await _startup.open_whatsapp(
                context, page, self._config, lambda d: self._on_page(run, d)
            )
        finally:
            await find_pids

    async def _find_pids(self, run: _Run, own_driver: bool) -> None:
        pid = await asyncio.to_thread(_startup.find_browser_pid, self.profile_dir)
        run.browser_pid = pid
        run.driver_pid = _startup.parent_pid(pid) if own_driver and pid else None

    async def _abort_start(self, context: BrowserContext | None, owned: Playwright | None) -> None:
        if self._run is not None:
            await self._shutdown()
            return
        stray = self._process_tree(None, None)
        if context is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.close(), _CLOSE_TIMEOUT_S)
        if owned is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(owned.stop(), _CLOSE_TIMEOUT_S)
        _processes.kill(stray | _processes.pids_using_profile(self.profile_dir))

    async def stop(self) -> None:
        async with self._lifecycle:
            await self._shutdown()
        await self._drain_events()

    async def logout(self) -> None:
        async with self._lifecycle:
            if self.running:
                self._stopping = True  # our own logout is not reported as LoggedOut
                try:
                    await self._command("logout", limit_s=15.0)
                except EngineError as exc:
                    log.warning(
                        "wa logout failed; wiping the profile anyway",
                        extra={"instance_id": self.instance_id, "code": exc.code},
                    )
            await self._shutdown()
            _profile.wipe(self.profile_dir)
        await self._drain_events()

    async def _shutdown(self) -> None:
        """Close the browser, then make sure no process of it is left. Emits nothing."""
        run = self._run
        if run is None:
            return
        self._stopping = True
        tree = self._process_tree(run.browser_pid, run.driver_pid)
        try:
            await asyncio.wait_for(run.context.close(), _CLOSE_TIMEOUT_S)
        except Exception as exc:  # a hung or dead browser: killed below
            log.warning(
                "browser close failed, killing its processes",
                extra={"instance_id": self.instance_id, "error": repr(exc)},
            )
        _processes.kill(tree | self._process_tree(run.browser_pid, None))
        if run.playwright is not None:
            try:
                await asyncio.wait_for(run.playwright.stop(), _CLOSE_TIMEOUT_S)
            except Exception as exc:
                log.warning(
                    "playwright driver stop failed",
                    extra={"instance_id": self.instance_id, "error": repr(exc)},
                )
        _processes.kill(tree | _processes.pids_using_profile(self.profile_dir))
        await _startup.wait_dead(tree)
        run.queue.put_nowait(None)  # the dispatcher ends after the events already queued
        self._run = None

    async def _drain_events(self) -> None:
        """Let the dispatcher deliver what is queued, then end it (bounded)."""
        cleanup = self._cleanup_task
        if cleanup is not None and cleanup is not asyncio.current_task():
            await cleanup
            self._cleanup_task = None
        task = self._dispatcher
        if task is None or task is asyncio.current_task():
            return  # not started, or the sink itself called stop: it ends on its own
        try:
            await asyncio.wait_for(asyncio.shield(task), 2.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._dispatcher is task:
            self._dispatcher = None

    def _lose(self, run: _Run, reason: str) -> None:
        """The browser side went away without us asking: report once and free the processes."""
        if self._stopping or run.lost or self._run is not run:
            return
        run.lost = True
        run.queue.put_nowait(Disconnected(self.instance_id, reason))
        self._cleanup_task = asyncio.get_running_loop().create_task(
            self._cleanup_lost(run), name=f"wa-engine-cleanup:{self.instance_id}"
        )

    async def _cleanup_lost(self, run: _Run) -> None:
        async with self._lifecycle:
            if self._run is run:
                await self._shutdown()

    # -- processes ------------------------------------------------------------------------

    def _process_tree(self, browser_pid: int | None, driver_pid: int | None) -> set[int]:
        return _startup.process_tree(self.profile_dir, browser_pid, driver_pid)

    def pids(self) -> list[int]:
        run = self._run
        if run is None:
            return sorted(_processes.pids_using_profile(self.profile_dir))
        return sorted(self._process_tree(run.browser_pid, run.driver_pid))

    # -- events ---------------------------------------------------------------------------

    async def _dispatch(self, queue: asyncio.Queue[EngineEvent | None]) -> None:
        while True:
            event = await queue.get()
            if event is None:
                return
            try:
                await self._sink(event)
            except Exception:
                log.exception(
                    "event sink failed",
                    extra={"instance_id": self.instance_id, "event": type(event).__name__},
                )

    def _on_console(self, run: _Run, message: ConsoleMessage) -> None:
        """wa-js logs what it could not find in WhatsApp Web with console.error ("Module X was
        not found with ...", "Property X was not found for Y in module Z": exportModule.ts):
        the sign a WhatsApp Web update broke part of it."""
        if message.type != "error" or self._run is not run or run.lost:
            return
        text = message.text
        if "was not found" in text and ("Module " in text or "Property " in text):
            run.queue.put_nowait(WaProblem(self.instance_id, f"wa_js_module: {text[:240]}"))

    def _on_page(self, run: _Run, data: Any) -> None:
        if not isinstance(data, dict) or self._run is not run or run.lost or self._stopping:
            return
        try:
            event = translate(self.instance_id, run.login, self._memory, data)
        except (KeyError, TypeError, ValueError):
            log.exception(
                "unreadable page event", extra={"instance_id": self.instance_id, "data": data}
            )
            return
        if event is not None:
            run.queue.put_nowait(event)

    # -- commands -------------------------------------------------------------------------

    async def _command(self, name: str, *args: Any, limit_s: float = _COMMAND_TIMEOUT_S) -> Any:
        run = self._run
        if run is None or run.lost:
            raise EngineError("not_running", f"engine {self.instance_id} is not running")
        script = f"(args) => window.__waCommands.{name}(...args)"
        try:
            return await asyncio.wait_for(run.page.evaluate(script, list(args)), limit_s)
        except TimeoutError as exc:
            raise EngineError("wa_timeout", f"{name} timed out") from exc
        except PlaywrightError as exc:
            raise EngineError("wa_error", f"{name}: {exc.message}") from exc

    async def hold_until(self, deadline: float) -> None:
        """The page leaves WhatsApp by itself at `deadline` (epoch seconds) unless told a later
        one: a worker's lease, enforced even while this process cannot act (lease_guard.js)."""
        run = self._run
        if run is None or run.lost:
            raise EngineError("not_running", f"engine {self.instance_id} is not running")
        try:
            await asyncio.wait_for(
                run.page.evaluate(
                    "(ms) => window.__waHold && window.__waHold(ms)", deadline * 1000
                ),
                _COMMAND_TIMEOUT_S,
            )
        except (TimeoutError, PlaywrightError) as exc:
            raise EngineError("wa_error", f"hold_until: {exc}") from exc

    async def send_text(self, chat_id: str, text: str, *, message_id: str) -> SentMessage:
        return _sent(await self._command("sendText", chat_id, text, message_id))

    async def send_file(
        self,
        chat_id: str,
        data: bytes,
        *,
        mimetype: str,
        filename: str,
        caption: str | None,
        message_id: str,
        voice: bool = False,
    ) -> SentMessage:
        data_url = f"data:{mimetype};base64,{base64.b64encode(data).decode()}"
        options = {
            "mimetype": mimetype,
            "filename": filename,
            "caption": caption,
            "messageId": message_id,
            "voice": voice,
        }
        return _sent(await self._command("sendFile", chat_id, data_url, options))

    async def download_media(self, message_id: str) -> Media:
        serialized, filename = self._memory.media_for(message_id)
        result = await self._command("download", serialized)
        mimetype, data = _decode_data_url(str(result["dataUrl"]))
        return Media(data=data, mimetype=result.get("mimetype") or mimetype, filename=filename)

    async def resolve_phone(self, phone: str) -> ResolvedId | None:
        digits = _digits(phone)
        result = await self._command("resolve", f"{digits}@c.us")
        if result is None:
            return None
        return ResolvedId(wid=str(result["wid"]), lid=result.get("lid") or None)

    async def catch_up(self, since: int, chats: Mapping[str, int] | None = None) -> int:
        return int(
            await self._command(
                "catchUp",
                since,
                CATCH_UP_CHATS,
                self._config.catch_up_per_chat,
                dict(chats or {}),
                limit_s=_CATCH_UP_TIMEOUT_S,
            )
        )

    async def mark_read(self, chat_id: str) -> None:
        await self._command("markRead", chat_id)

    async def mark_composing(self, chat_id: str, seconds: float) -> None:
        await self._command("composing", chat_id, int(seconds * 1000))

    async def reject_call(self, call_id: str) -> bool:
        try:
            return bool(await self._command("rejectCall", call_id))
        except EngineError as exc:
            if "call_not_found" in str(exc) or "not incoming" in str(exc):
                return False  # it stopped ringing first (call/functions/reject.ts)
            raise

    async def request_pairing_code(self, phone: str) -> str:
        code = str(await self._command("pairingCode", _digits(phone)))
        run = self._run
        if run is not None:
            run.queue.put_nowait(PairingCode(self.instance_id, code))
        return code


# Catch-up reads the most recently active chats (and of each, CATCH_UP_PER_CHAT messages).
CATCH_UP_CHATS = 200
_CATCH_UP_TIMEOUT_S = 120.0


def _digits(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if not digits:
        raise EngineError("invalid_phone", f"no digits in {phone!r}")
    return digits


def _decode_data_url(url: str) -> tuple[str, bytes]:
    header, _, payload = url.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise EngineError("wa_error", "media is not a base64 data URL")
    try:
        return header[5:].split(";")[0], base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise EngineError("wa_error", "media is not valid base64") from exc


if TYPE_CHECKING:

    def _implements_engine(engine: PlaywrightEngine) -> Engine:
        return engine  # mypy proves PlaywrightEngine satisfies the Engine protocol


def _sent(result: dict[str, Any]) -> SentMessage:
    """The bridge's send answer; a wa-js `ERROR_*` send result is a send that did not happen."""
    if result.get("error"):
        raise EngineError("send_failed", f"WhatsApp did not send it ({result['error']})")
    recipients = result.get("recipients")
    return SentMessage(
        id=str(result["id"]),
        serialized_id=str(result["serialized_id"]),
        recipients=tuple(str(r) for r in recipients) if isinstance(recipients, list) else None,
    )
