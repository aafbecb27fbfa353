"""Measure the memory of one browser session: untuned baseline vs the engine's launch.

Not a test (it takes ~1 min); run by hand when changing the Chromium flags:

    .venv/bin/python tests/connectors/memory_probe.py [sessions]

For each variant it opens `sessions` browsers on the fixture page (served locally), waits for
them to settle, and sums PSS (/proc/<pid>/smaps_rollup) over every Chromium process of the
Playwright driver's tree (the driver itself excluded: it is the same in every variant).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from playwright.async_api import BrowserContext, async_playwright

from connectors import _chromium, _processes
from connectors.wajs import find_chromium
from support.wa_fixture import FIXTURE_DIR, StaticServer

SETTLE_S = 4.0


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _driver_pid() -> int:
    for pid in _processes.descendants([os.getpid()]):
        if "run-driver" in _processes.cmdline(pid):
            return pid
    raise RuntimeError("no playwright driver")


def _browser_tree_mib(driver: int) -> tuple[float, int]:
    pids = _processes.descendants([driver]) - {driver}
    return sum(_pss_kib(pid) for pid in pids) / 1024, len(pids)


async def _measure(
    label: str, sessions: int, url: str, persistent_args: Sequence[str] | None
) -> float:
    chromium = find_chromium()
    assert chromium
    async with async_playwright() as pw:
        closers = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(sessions):
                if persistent_args is None:
                    browser = await pw.chromium.launch(executable_path=chromium)
                    page = await browser.new_page()
                    closers.append(browser.close)
                else:
                    context: BrowserContext = await pw.chromium.launch_persistent_context(
                        user_data_dir=Path(tmp) / f"p{i}",
                        executable_path=chromium,
                        headless=True,
                        args=list(persistent_args),
                        user_agent=_chromium.user_agent(chromium),
                        viewport=_chromium.VIEWPORT,
                        service_workers="block",
                    )
                    page = context.pages[0] if context.pages else await context.new_page()
                    closers.append(context.close)
                await page.goto(url)
                await page.wait_for_function("() => window.WPP && window.WPP.isReady")
            await asyncio.sleep(SETTLE_S)
            total, count = _browser_tree_mib(_driver_pid())
            print(
                f"{label:38s} sessions={sessions} processes={count:3d} "
                f"total={total:7.1f} MiB per_session={total / sessions:6.1f} MiB",
                flush=True,
            )
            for close in closers:
                await close()
            return total


async def main(sessions: int) -> None:
    lean = _chromium.launch_args()
    base = [a for a in lean if a in _chromium._BASE_ARGS or a == "--no-sandbox"]
    variants: list[tuple[str, Sequence[str] | None]] = [
        ("baseline launch()+new_page", None),
        ("persistent, base flags only", base),
        ("engine, multi-process", _chromium.launch_args(single_process=False)),
        ("engine (single process)", lean),
    ]
    with StaticServer(FIXTURE_DIR) as server:
        url = server.url(qr_first_ms=60000)
        for label, args in variants:
            # The first browser carries the shared code pages: the cost of each further
            # session is (total(n) - total(1)) / (n - 1).
            one = await _measure(label, 1, url, args)
            many = await _measure(label, sessions, url, args) if sessions > 1 else one
            if sessions > 1:
                print(f"{label:38s} per extra session={(many - one) / (sessions - 1):6.1f} MiB")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
