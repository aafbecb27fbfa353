"""Memory per session on a page as heavy as WhatsApp Web (issue 17). Run on demand, not in CI:

    .venv/bin/python bench/bench_sessions_heavy.py [--levels 1,5,10] [--heap-mb 150]
        [--idb-mb 100] [--runs 3]

The fixture page is far lighter than WhatsApp Web, so `bench_sessions.py` understates what a
session costs. Here the same page carries `heavy_wa/heavy.js`: a retained JS heap and an
IndexedDB written once per profile, of the sizes given. PSS per connected session (every
process of our engines) is measured for the light page and the heavy one in the same run, at
each level, through the real SessionManager.

Where the default sizes come from: users of Chromium-based WhatsApp Web bridges report the
whole browser per session at about 270 MB (whatsapp-web.js#3559: "30 instances use 8 GB") to
400 MB (avoylenko/wwebjs-api#10: "each session takes about 400MB"), with outliers far above
(2.7 GB, same thread, after long uptime). No source splits that between JS heap and storage;
150 MB of heap and 100 MB of IndexedDB are this bench's assumption, chosen so the measured
per-session figure lands inside the reported band. The heavy figure, not the light one, sizes
MAX_SESSIONS and the Render blueprint.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(HERE)]

from bench_sessions import SETTLE_S, connect, pss_mib  # noqa: E402
from tortoise import Tortoise  # noqa: E402

from connectors.playwright_engine import PlaywrightEngine  # noqa: E402
from connectors.wajs import find_chromium  # noqa: E402
from ghl_app.bus import InProcessEventBus  # noqa: E402
from ghl_app.db import apply_migrations, tortoise_config  # noqa: E402
from ghl_app.models import Instance, Location  # noqa: E402
from ghl_app.sessions import SessionManager  # noqa: E402
from ghl_app.settings import load_settings  # noqa: E402
from ghl_app.supervisor import TaskSupervisor  # noqa: E402
from support.wa_fixture import FIXTURE_DIR, StaticServer  # noqa: E402


def _page_folder(into: Path) -> Path:
    """The fixture's files and heavy.html: the fixture page with heavy.js after it."""
    for source in FIXTURE_DIR.iterdir():
        (into / source.name).symlink_to(source)
    (into / "heavy.js").symlink_to(HERE / "heavy_wa" / "heavy.js")
    index = (FIXTURE_DIR / "index.html").read_text()
    (into / "heavy.html").write_text(
        index.replace("</head>", '  <script src="heavy.js"></script>\n  </head>')
    )
    return into


async def _page_sizes(manager: SessionManager, profiles: Path) -> tuple[float, float]:
    """One page's live JS heap (DevTools protocol) and its IndexedDB folder on disk, in MiB."""
    engine = next(iter(manager._sessions.values())).engine
    assert isinstance(engine, PlaywrightEngine)
    cdp = await engine.page.context.new_cdp_session(engine.page)
    usage = await cdp.send("Runtime.getHeapUsage")
    await cdp.detach()
    folder = next(profiles.iterdir())
    stored = sum(f.stat().st_size for f in folder.glob("Default/IndexedDB/**/*") if f.is_file())
    return usage["usedSize"] / 2**20, stored / 2**20


async def _per_session(url: str, levels: list[int], chromium: str) -> dict[int, float]:
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(
            {
                "DATA_DIR": data,
                "APP_SECRET": "bench-secret-0123456789",
                "WA_JS": "none",
                "WA_WEB_URL": url,
                "CHROMIUM_PATH": chromium,
                "MAX_SESSIONS": str(max(levels) + 2),
                "MAX_SESSIONS_PER_LOCATION": str(max(levels) + 2),
                "LOG_LEVEL": "WARNING",
            }
        )
        await apply_migrations(settings.database_url)
        await Tortoise.init(config=tortoise_config(settings.database_url))
        await Location.create(location_id="bench", installed_at=datetime.now(UTC))
        supervisor = TaskSupervisor()
        manager = SessionManager(settings, InProcessEventBus(), supervisor)
        figures: dict[int, float] = {}
        try:
            await manager.restore()
            connected = 0
            for level in levels:
                while connected < level:
                    instance = await Instance.create(location_id="bench", name=f"s{connected}")
                    await connect(manager, instance, f"55219{connected:08d}")
                    connected += 1
                await asyncio.sleep(SETTLE_S * 2)  # the heavy page's IndexedDB writes settle
                figures[level] = pss_mib(manager.engine_pids()) / level
            heap, stored = await _page_sizes(manager, settings.profiles_dir)
            print(
                f"  {url.split('/')[-1][:40]}: JS heap {heap:.0f} MiB, IndexedDB {stored:.0f} MiB"
            )
        finally:
            await manager.shutdown()
            await supervisor.shutdown()
            await Tortoise.close_connections()
    return figures


async def run(args: argparse.Namespace) -> None:
    chromium = find_chromium()
    assert chromium, "no Chromium"
    levels = [int(x) for x in args.levels.split(",")]
    light: dict[int, list[float]] = {level: [] for level in levels}
    heavy: dict[int, list[float]] = {level: [] for level in levels}
    with tempfile.TemporaryDirectory() as pages, StaticServer(_page_folder(Path(pages))) as server:
        heavy_url = server.url("heavy.html", heapMb=args.heap_mb, idbMb=args.idb_mb)
        for run_number in range(args.runs):
            for level, mib in (await _per_session(server.url(), levels, chromium)).items():
                light[level].append(mib)
            for level, mib in (await _per_session(heavy_url, levels, chromium)).items():
                heavy[level].append(mib)
            print(f"run {run_number + 1}/{args.runs} done (load {os.getloadavg()[0]:.1f})")
    print(f"\nPSS per connected session, median of {args.runs} runs (MiB)")
    print(f"heavy page: {args.heap_mb} MB JS heap + {args.idb_mb} MB IndexedDB")
    print("| sessions | light fixture | heavy fixture | heavy / light |")
    print("|---|---|---|---|")
    for level in levels:
        lo, hi = statistics.median(light[level]), statistics.median(heavy[level])
        print(f"| {level} | {lo:.0f} | {hi:.0f} | {hi / lo:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="1,5,10")
    parser.add_argument("--heap-mb", type=int, default=150)
    parser.add_argument("--idb-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
