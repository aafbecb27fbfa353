"""Soak benchmark (issue 4): many connected sessions held for minutes, memory and processes.

    .venv/bin/python bench/bench_sessions_soak.py [--hold-sessions 30] [--hold-minutes 10]
        [--sample-seconds 30] [--message-every 20]

Through the real SessionManager (default Playwright engines, real SQLite) on the fake WhatsApp
Web page: link `--hold-sessions` instances, let them settle, then hold them for `--hold-minutes`
while every session receives a message from the fixture every `--message-every` seconds (text;
every fifth an image), sampling the PSS and the count of our engines' processes. Then stop every
instance and count what is left: our engines' processes, and any process whose command line
names a profile under the bench's DATA_DIR (found through /proc). Target: growth ≤ 10 %, 0 left.
Prints a Markdown block for docs/benchmarks.md ("Sessions").
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from bench_sessions import Bench, connect, pss_mib  # noqa: E402
from tortoise import Tortoise  # noqa: E402

from connectors import _processes  # noqa: E402
from connectors.events import EngineEvent, Message  # noqa: E402
from connectors.playwright_engine import PlaywrightEngine  # noqa: E402
from connectors.wajs import find_chromium  # noqa: E402
from ghl_app.db import apply_migrations, tortoise_config  # noqa: E402
from ghl_app.models import Instance, Location  # noqa: E402
from ghl_app.sessions import SessionManager  # noqa: E402
from ghl_app.settings import load_settings  # noqa: E402
from support.wa_fixture import FIXTURE_DIR, FakeWhatsApp, StaticServer  # noqa: E402

SETTLE_S = 20.0
# A 1x1 PNG: media messages keep a Blob in the page, as WhatsApp Web does.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class Sample:
    at_s: float
    pss_mib: float
    processes: int
    load: float


@dataclass
class Soak:
    sessions: int
    samples: list[Sample] = field(default_factory=list)
    delivered: int = 0
    received: int = 0
    delivery_errors: int = 0
    left_ours: int = -1
    left_under_data_dir: int = -1
    link_s: float = 0.0


def processes_under(data_dir: Path) -> set[int]:
    """Live processes whose command line names a path under DATA_DIR (any Chromium of ours)."""
    needle = str(data_dir)
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if any(needle in arg for arg in _processes.cmdline(pid)) and _processes.is_alive(pid):
                found.add(pid)
    return found


def sample(manager: SessionManager, began: float) -> Sample:
    pids = manager.engine_pids()
    return Sample(time.perf_counter() - began, pss_mib(pids), len(pids), os.getloadavg()[0])


async def activity(
    manager: SessionManager, instances: list[Instance], every_s: float, soak: Soak
) -> None:
    """Each session gets a message every `every_s`, spread evenly over the sessions."""
    gap = every_s / len(instances)
    n = 0
    while True:
        for i, instance in enumerate(instances):
            engine = manager.engine_for(instance.id)
            try:
                assert isinstance(engine, PlaywrightEngine)
                fake = FakeWhatsApp(engine.page)
                sender = f"55119{i:04d}{n % 10000:04d}"
                if n % 5 == 4:
                    await fake.deliver(
                        **{"from": sender, "media": (PNG, "image/png", "p.png"), "caption": "pic"}
                    )
                else:
                    await fake.deliver(**{"from": sender, "body": f"soak message {n} to {i}"})
                soak.delivered += 1
            except Exception as exc:
                soak.delivery_errors += 1
                print(f"delivery to {instance.name} failed: {exc!r}")
            await asyncio.sleep(gap)
        n += 1


async def run(args: argparse.Namespace) -> Soak:
    chromium = find_chromium()
    assert chromium, "no Chromium"
    soak = Soak(args.hold_sessions)
    with tempfile.TemporaryDirectory() as tmp, StaticServer(FIXTURE_DIR) as server:
        data_dir = Path(tmp).resolve()
        settings = load_settings(
            {
                "DATA_DIR": str(data_dir),
                "APP_SECRET": "bench-secret-0123456789",
                "WA_JS": "none",
                "WA_WEB_URL": server.url(),
                "CHROMIUM_PATH": chromium,
                "MAX_SESSIONS": str(args.hold_sessions + 2),
                "LOG_LEVEL": "WARNING",
            }
        )
        await apply_migrations(settings.database_url)
        await Tortoise.init(config=tortoise_config(settings.database_url))
        await Location.create(location_id="bench", installed_at=datetime.now(UTC))
        bench = Bench(settings)
        try:
            manager = bench.manager()

            async def count(_iid: uuid.UUID, _loc: str, event: EngineEvent) -> None:
                if isinstance(event, Message):
                    soak.received += 1

            manager.add_message_listener(count)
            await manager.restore()
            began = time.perf_counter()
            instances = []
            for i in range(args.hold_sessions):
                instance = await Instance.create(location_id="bench", name=f"soak-{i}")
                await connect(manager, instance, f"55319{i:08d}")
                instances.append(instance)
            soak.link_s = time.perf_counter() - began
            print(f"{len(instances)} linked in {soak.link_s:.0f} s; settling {SETTLE_S:.0f} s")
            await asyncio.sleep(SETTLE_S)
            began = time.perf_counter()
            traffic = asyncio.create_task(activity(manager, instances, args.message_every, soak))
            end = began + args.hold_minutes * 60
            while True:
                soak.samples.append(sample(manager, began))
                last = soak.samples[-1]
                print(
                    f"t={last.at_s:5.0f}s PSS {last.pss_mib:7.0f} MiB "
                    f"({last.pss_mib / soak.sessions:5.1f}/session) processes {last.processes} "
                    f"load {last.load:.1f} messages {soak.received}/{soak.delivered}"
                )
                if time.perf_counter() >= end:
                    break
                await asyncio.sleep(min(args.sample_seconds, end - time.perf_counter()))
            traffic.cancel()
            await asyncio.gather(traffic, return_exceptions=True)
            ours = set(manager.engine_pids())
            for instance in instances:
                await manager.stop(instance.id, location_id="bench")
            soak.left_ours = sum(1 for pid in ours if _processes.is_alive(pid))
            soak.left_under_data_dir = len(processes_under(data_dir))
        finally:
            await bench.close()
            await Tortoise.close_connections()
    return soak


def report(soak: Soak, args: argparse.Namespace) -> str:
    first, last = soak.samples[0], soak.samples[-1]
    top = max(soak.samples, key=lambda s: s.pss_mib)
    warm = soak.samples[1] if len(soak.samples) > 1 else first
    counts = [s.processes for s in soak.samples]
    loads = [s.load for s in soak.samples]
    per = soak.sessions

    def growth(value: float) -> str:
        return f"{(value / first.pss_mib - 1) * 100:+.1f} %"

    return "\n".join(
        [
            f"Soak (`bench/bench_sessions_soak.py`, {datetime.now(UTC):%Y-%m-%d}, "
            f"{os.cpu_count()} CPUs): {per} connected sessions held {args.hold_minutes:g} min, "
            f"each receiving a message every {args.message_every:g} s (every fifth an image), "
            f"PSS of our engines' processes sampled every {args.sample_seconds:g} s "
            f"({len(soak.samples)} samples); load average {min(loads):.1f}-{max(loads):.1f}. "
            f"Linking the {per} took {soak.link_s:.0f} s.",
            "",
            "| figure | total | per session |",
            "|---|---|---|",
            f"| PSS at start of hold | {first.pss_mib:.0f} MiB | {first.pss_mib / per:.1f} MiB |",
            f"| PSS at end | {last.pss_mib:.0f} MiB | {last.pss_mib / per:.1f} MiB |",
            f"| PSS max | {top.pss_mib:.0f} MiB (t={top.at_s:.0f} s) | "
            f"{top.pss_mib / per:.1f} MiB |",
            f"| growth end / max vs start (target ≤ +10 %) | {growth(last.pss_mib)} / "
            f"{growth(top.pss_mib)} | |",
            f"| growth end vs the first sample with traffic (t={warm.at_s:.0f} s) | "
            f"{(last.pss_mib / warm.pss_mib - 1) * 100:+.1f} % | |",
            f"| processes of our engines, min / max | {min(counts)} / {max(counts)} | |",
            f"| messages delivered / received as events (errors) | {soak.delivered} / "
            f"{soak.received} ({soak.delivery_errors}) | |",
            f"| processes left after stopping all: ours / any naming DATA_DIR (target 0) | "
            f"{soak.left_ours} / {soak.left_under_data_dir} | |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold-sessions", type=int, default=30)
    parser.add_argument("--hold-minutes", type=float, default=10.0)
    parser.add_argument("--sample-seconds", type=float, default=30.0)
    parser.add_argument("--message-every", type=float, default=20.0)
    args = parser.parse_args()
    soak = asyncio.run(run(args))
    print(report(soak, args))


if __name__ == "__main__":
    main()
