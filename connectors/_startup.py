"""Starting one session's browser: launch Chromium on the profile, open WhatsApp Web in it.

Start -> first QR is what a user waits for, so the steps that do not depend on each other
overlap (measured in docs/benchmarks.md, "Sessions"): the binding that carries page events to
Python is exposed while the init scripts are added and the page loads. The page side
(`wa_bridge.js`, `emit`) queues events until the binding exists, so none is lost or reordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, Playwright
from playwright.async_api import Error as PlaywrightError

from connectors import _chromium, _processes
from connectors.base import EngineError

log = logging.getLogger(__name__)

_BRIDGE_JS = Path(__file__).with_name("wa_bridge.js")
_LEASE_GUARD_JS = Path(__file__).with_name("lease_guard.js")
BINDING = "__waEmit"
_ATTACH_TIMEOUT_MS = 60_000
_ATTACHED = "() => !!(window.__waBridge && window.__waBridge.attached)"
_READY_FLAG = "__waEmitReady"
# Sets the flag the bridge's `emit` waits for; true when the document has the binding.
_MARK_READY = f"""() => {{
  window.{_READY_FLAG} = true;
  return typeof window.{BINDING} === 'function';
}}"""


@dataclass(frozen=True, slots=True)
class PlaywrightConfig:
    chromium_path: str
    wa_web_url: str
    # None: the page already provides window.WPP (WA_JS=none, used with the fixture page).
    wa_js_path: Path | None
    device_name: str
    headless: bool = True
    # One OS process per session (see _chromium.py for the measurements and the trade-off).
    single_process: bool = True
    # Operator-supplied flags (CHROMIUM_ARGS), e.g. a proxy or remote debugging.
    extra_args: tuple[str, ...] = ()
    # WhatsApp open on another computer (stream CONFLICT): take the session back, or stay
    # disconnected with the reason (WA_TAKEOVER_ON_CONFLICT).
    takeover_on_conflict: bool = True
    # Catch-up reads this many of each chat's latest messages (CATCH_UP_PER_CHAT).
    catch_up_per_chat: int = 100


async def launch(
    playwright: Playwright, profile_dir: Path, config: PlaywrightConfig
) -> BrowserContext:
    try:
        return await playwright.chromium.launch_persistent_context(
            user_data_dir=profile_dir,
            executable_path=config.chromium_path,
            headless=config.headless,
            args=[*_chromium.launch_args(single_process=config.single_process), *config.extra_args],
            # Cached after the first call (the manager warms it up at boot).
            user_agent=await asyncio.to_thread(_chromium.user_agent, config.chromium_path),
            viewport=_chromium.VIEWPORT,
            service_workers="block",
        )
    except PlaywrightError as exc:
        raise EngineError("browser_launch_failed", str(exc)) from exc


async def _add_init_scripts(context: BrowserContext, config: PlaywrightConfig) -> None:
    """WPPConfig strictly before wa-js (it reads it at load); the bridge's place does not matter
    (it polls for window.WPP), so it is added alongside: one round trip less per start."""
    wpp_config = {
        "deviceName": config.device_name,
        "disableGoogleAnalytics": True,
        "poweredBy": config.device_name,
        # wa-js fetches link previews through three third-party servers unless this is set
        # (util/linkPreview.ts; an empty list is truthy there and turns them off): no URL our
        # users type leaves for a server we did not choose.
        "linkPreviewApiServers": [],
    }

    bridge_options = {"takeoverOnConflict": config.takeover_on_conflict}

    async def wa_js() -> None:
        await context.add_init_script(
            f"window.WPPConfig = {json.dumps(wpp_config)};"
            f" window.__waBridgeOptions = {json.dumps(bridge_options)};"
        )
        if config.wa_js_path is not None:
            await context.add_init_script(path=config.wa_js_path)

    await asyncio.gather(
        wa_js(),
        context.add_init_script(path=_BRIDGE_JS),
        context.add_init_script(path=_LEASE_GUARD_JS),
    )


async def open_whatsapp(
    context: BrowserContext, page: Page, config: PlaywrightConfig, on_event: Callable[[Any], None]
) -> None:
    """Expose the event binding, add the init scripts, load WhatsApp Web, wait for the bridge.

    Returns once the bridge is attached and the binding takes events; raises EngineError
    otherwise (the caller closes the browser). Every task it starts has ended when it returns.
    """
    binding = asyncio.ensure_future(
        context.expose_binding(BINDING, lambda _source, data: on_event(data))
    )
    loaded = asyncio.ensure_future(_load(context, page, config))
    ready = asyncio.ensure_future(_mark_ready(context, page, binding))
    outcomes = await asyncio.gather(binding, loaded, ready, return_exceptions=True)
    codes = ("binding_failed", "wa_web_not_loaded", "binding_failed")
    for outcome, code in zip(outcomes, codes, strict=True):
        if isinstance(outcome, EngineError):
            raise outcome
        if isinstance(outcome, BaseException):
            raise EngineError(code, str(outcome)) from outcome
    # The loaded document, whatever happened to the earlier mark (it may have hit the blank page
    # or a document being replaced).
    if not await page.evaluate(_MARK_READY):
        # The binding reached the browser just as the page committed, too late for the new
        # document's init scripts and too early for the old one. Rare; a reload fixes it (the
        # bridge re-reads the state, so the QR or the login is reported again).
        log.warning("binding missed the first document, reloading", extra={"url": page.url})
        try:
            await page.reload(wait_until="load")
            await page.wait_for_function(_ATTACHED, timeout=_ATTACH_TIMEOUT_MS)
            bound = await page.evaluate(_MARK_READY)
        except PlaywrightError as exc:
            raise EngineError("wa_web_not_loaded", str(exc)) from exc
        if not bound:
            raise EngineError("binding_failed", "the page has no event binding")


async def _load(context: BrowserContext, page: Page, config: PlaywrightConfig) -> None:
    await _add_init_scripts(context, config)
    try:
        await page.goto(config.wa_web_url, wait_until="load")
        await page.wait_for_function(_ATTACHED, timeout=_ATTACH_TIMEOUT_MS)
    except PlaywrightError as exc:
        raise EngineError("wa_web_not_loaded", str(exc)) from exc


async def _mark_ready(context: BrowserContext, page: Page, binding: asyncio.Future[Any]) -> None:
    """Tell the bridge the binding takes events, as soon as Playwright can deliver them: the
    Python client only routes a binding's calls once its expose_binding has returned."""
    await asyncio.wait({binding})  # its failure is reported by open_whatsapp
    if binding.cancelled() or binding.exception() is not None:
        return

    async def current_document() -> None:
        # While a navigation replaces the document this may fail or hit the old one: open_whatsapp
        # marks the loaded document again.
        with contextlib.suppress(PlaywrightError):
            await page.evaluate(_MARK_READY)

    later_documents = context.add_init_script(f"window.{_READY_FLAG} = true;")
    await asyncio.gather(current_document(), later_documents)


# -- the browser's processes ---------------------------------------------------------------


def parent_pid(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(raw[raw.rindex(")") + 2 :].split()[1])


def find_browser_pid(profile_dir: Path) -> int | None:
    """The root of the processes running this profile (the browser itself)."""
    using = _processes.pids_using_profile(profile_dir)
    roots = [pid for pid in using if parent_pid(pid) not in using]
    return min(roots) if roots else None


def process_tree(profile_dir: Path, browser_pid: int | None, driver_pid: int | None) -> set[int]:
    roots = {pid for pid in (browser_pid, driver_pid) if pid is not None}
    return _processes.descendants(roots) | _processes.pids_using_profile(profile_dir)


async def wait_dead(pids: set[int]) -> None:
    """Wait (bounded) until killed processes are gone; nothing to be notified by but /proc."""
    for _ in range(60):
        if not any(_processes.is_alive(pid) for pid in pids):
            return
        await asyncio.sleep(0.05)
