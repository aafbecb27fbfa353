"""Session benchmark on the fake WhatsApp Web page (issue 4). Run on demand, not in CI:

    .venv/bin/python bench/bench_sessions.py [--starts 20] [--levels 1,10,30]
        [--phases qr,memory,restore] [--write]

Measures, through the real SessionManager (default Playwright engines, real SQLite):
- start -> first QR on the bus, median and p95 over `--starts` starts, cold (new profile) and
  warm (same profile, stopped and started again);
- PSS per connected session at each level (every process of our engines; the shared Playwright
  driver excluded) against an untuned `chromium.launch()` + page per session, same run;
- restore time: a new manager on the same DATA_DIR bringing every connected session back.
`--phases` picks what runs (restore needs memory: it restores the sessions connected there).
`--write` replaces the "Sessions" section of docs/benchmarks.md with the figures (it drops the
soak figures of `bench_sessions_soak.py` and the notes: prefer pasting the printed tables).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playwright.async_api import async_playwright  # noqa: E402
from tortoise import Tortoise  # noqa: E402

from connectors import _processes  # noqa: E402
from connectors.playwright_engine import PlaywrightEngine  # noqa: E402
from connectors.wajs import find_chromium  # noqa: E402
from ghl_app.bus import InProcessEventBus  # noqa: E402
from ghl_app.db import apply_migrations, tortoise_config  # noqa: E402
from ghl_app.models import Instance, InstanceStatus, Location  # noqa: E402
from ghl_app.sessions import SessionManager  # noqa: E402
from ghl_app.settings import Settings, load_settings  # noqa: E402
from ghl_app.supervisor import TaskSupervisor  # noqa: E402
from support.wa_fixture import FIXTURE_DIR, FakeWhatsApp, StaticServer  # noqa: E402

SETTLE_S = 4.0
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Sessions"


def pss_mib(pids: list[int] | set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Bench:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.managers: list[tuple[SessionManager, TaskSupervisor]] = []

    def manager(self) -> SessionManager:
        supervisor = TaskSupervisor()
        manager = SessionManager(self.settings, InProcessEventBus(), supervisor)
        self.managers.append((manager, supervisor))
        return manager

    async def close(self) -> None:
        for manager, supervisor in self.managers:
            await manager.shutdown()
            await supervisor.shutdown()


async def time_to_qr(manager: SessionManager, instance: Instance) -> float:
    bus = cast(InProcessEventBus, manager._bus)
    async with bus.subscription(f"instance:{instance.id}") as events:
        began = time.perf_counter()
        start = asyncio.create_task(manager.start(instance.id, location_id=instance.location_id))
        while (await asyncio.wait_for(events.get(), 30))["type"] != "qr":
            pass
        elapsed = time.perf_counter() - began
        await start
    return elapsed


async def first_qr(manager: SessionManager, starts: int) -> dict[str, list[float]]:
    cold: list[float] = []
    warm: list[float] = []
    for i in range(starts):
        instance = await Instance.create(location_id="bench", name=f"cold-{i}")
        cold.append(await time_to_qr(manager, instance))
        await manager.delete(instance.id, location_id="bench")
    instance = await Instance.create(location_id="bench", name="warm")
    await time_to_qr(manager, instance)  # creates the profile
    for _ in range(starts):
        await manager.stop(instance.id, location_id="bench")
        warm.append(await time_to_qr(manager, instance))
    await manager.delete(instance.id, location_id="bench")
    return {"cold": cold, "warm": warm}


async def connect(manager: SessionManager, instance: Instance, phone: str) -> None:
    await manager.start(instance.id, location_id=instance.location_id)
    engine = manager.engine_for(instance.id)
    assert isinstance(engine, PlaywrightEngine)
    await FakeWhatsApp(engine.page).scan(phone)
    for _ in range(400):
        if (await Instance.get(id=instance.id)).status is InstanceStatus.CONNECTED:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{instance.name} did not connect")


def _drivers() -> set[int]:
    return {
        pid
        for pid in _processes.descendants([os.getpid()])
        if "run-driver" in " ".join(_processes.cmdline(pid))
    }


async def baseline_pss(url: str, sessions: int, chromium: str) -> float:
    """Untuned: one `chromium.launch()` + page per session, as a naive implementation does."""
    before = _drivers()
    async with async_playwright() as pw:
        (driver,) = _drivers() - before  # this baseline's own driver, not the manager's
        browsers = []
        for i in range(sessions):
            browser = await pw.chromium.launch(executable_path=chromium)
            page = await browser.new_page()
            await page.goto(url)
            await FakeWhatsApp(page).scan(f"55119{i:08d}")
            browsers.append(browser)
        await asyncio.sleep(SETTLE_S)
        pids = _processes.descendants([driver]) - {driver}
        total = pss_mib(pids)
        for browser in browsers:
            await browser.close()
    return total / sessions


async def run(args: argparse.Namespace) -> dict[str, Any]:
    chromium = find_chromium()
    assert chromium, "no Chromium"
    levels = [int(x) for x in args.levels.split(",")]
    phases = set(args.phases.split(","))
    with tempfile.TemporaryDirectory() as tmp, StaticServer(FIXTURE_DIR) as server:
        settings = load_settings(
            {
                "DATA_DIR": tmp,
                "APP_SECRET": "bench-secret-0123456789",
                "WA_JS": "none",
                "WA_WEB_URL": server.url(),
                "CHROMIUM_PATH": chromium,
                "MAX_SESSIONS": str(max(levels) + 2),
                "LOG_LEVEL": "WARNING",
            }
        )
        await apply_migrations(settings.database_url)
        await Tortoise.init(config=tortoise_config(settings.database_url))
        await Location.create(location_id="bench", installed_at=datetime.now(UTC))
        bench = Bench(settings)
        results: dict[str, Any] = {"levels": {}}
        try:
            manager = bench.manager()
            await manager.restore()  # boot: warms the driver up
            if "qr" in phases:
                print(f"start -> first QR, {args.starts} cold and {args.starts} warm starts…")
                results["qr"] = await first_qr(manager, args.starts)
                results["qr_load"] = os.getloadavg()
            connected: list[Instance] = []
            for level in levels if "memory" in phases else []:
                while len(connected) < level:
                    instance = await Instance.create(location_id="bench", name=f"s{len(connected)}")
                    await connect(manager, instance, f"55219{len(connected):08d}")
                    connected.append(instance)
                await asyncio.sleep(SETTLE_S)
                ours = pss_mib(manager.engine_pids()) / level
                base = await baseline_pss(server.url(), level, chromium)
                results["levels"][level] = (ours, base)
                print(f"{level} sessions: {ours:.0f} MiB/session vs untuned {base:.0f} MiB")
            await manager.shutdown()
            if "restore" not in phases or not connected:
                return results
            restored = bench.manager()
            began = time.perf_counter()
            await restored.restore()
            ids = [i.id for i in connected]
            while await Instance.filter(id__in=ids, status=InstanceStatus.CONNECTED).count() < len(
                ids
            ):
                await asyncio.sleep(0.05)
            results["restore"] = (len(ids), time.perf_counter() - began)
            print(f"restore {len(ids)} connected sessions: {results['restore'][1]:.1f} s")
        finally:
            await bench.close()
            await Tortoise.close_connections()
    return results


def report(results: dict[str, Any]) -> str:
    qr = results.get("qr", {})
    lines = [
        SECTION,
        "",
        f"`bench/bench_sessions.py`, {datetime.now(UTC):%Y-%m-%d}, fake WhatsApp Web page, "
        f"{os.cpu_count()} CPUs, {platform.machine()}, Chromium from CHROMIUM_PATH.",
        f"Load average during the run: {os.getloadavg()[0]:.1f} (other work shares the CPUs: "
        "timings are pessimistic when it is high; PSS splits shared pages with any other "
        "Chromium running).",
        "",
        "| start -> first QR | median | p95 | n |",
        "|---|---|---|---|",
    ]
    for kind in qr:
        values = qr[kind]
        lines.append(
            f"| {kind} | {statistics.median(values):.2f} s | {p95(values):.2f} s | {len(values)} |"
        )
    lines += [
        "",
        "| connected sessions | PSS per session (ours) | untuned `chromium.launch()` | ratio |",
        "|---|---|---|---|",
    ]
    for level, (ours, base) in results["levels"].items():
        lines.append(f"| {level} | {ours:.0f} MiB | {base:.0f} MiB | {ours / base:.2f} |")
    levels = sorted(results["levels"])
    if len(levels) > 1 and levels[0] == 1:
        top = levels[-1]
        (one, base_one), (many, base_many) = results["levels"][1], results["levels"][top]
        ours_extra = (many * top - one) / (top - 1)
        base_extra = (base_many * top - base_one) / (top - 1)
        lines.append(
            f"| each session beyond the first (1 -> {top}) | {ours_extra:.0f} MiB | "
            f"{base_extra:.0f} MiB | {ours_extra / base_extra:.2f} |"
        )
    if "restore" in results:
        count, seconds = results["restore"]
        lines += [
            "",
            f"Restore of {count} connected sessions after a restart: {seconds:.1f} s "
            "(3 at a time, no QR).",
        ]
    lines.append("")
    return "\n".join(lines)


def write(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        tail = rest[rest.find("\n## ") :] if "\n## " in rest else ""
        text = head + section + tail.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--levels", default="1,10,30")
    parser.add_argument("--phases", default="qr,memory,restore")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    section = report(asyncio.run(run(args)))
    print(section)
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
