"""Catch-up benchmark (issue 12). Run on demand, not in CI:

    .venv/bin/python bench/bench_catch_up.py [--messages 200] [--chats 20] [--runs 3]

The real app over HTTP, the fixture page in Chromium, the fake GHL on loopback. Each run:
- baseline: `--messages` messages over `--chats` chats delivered live (chat.new_message fires),
  timed from the first delivery until all are in GHL;
- catch-up: as many stored while nobody listened (the fixture's `offline`), then the number
  restarted (stop + start: the page reloads from its profile), timed from the start request
  until all are in GHL, and split into reconnect (start -> connected) and the catch-up itself.
Prints medians over `--runs` and the ratio catch-up / live. Every message must arrive exactly
once, or the run fails.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _app_rig import connected_app  # noqa: E402
from bridge.conftest import Bridged  # noqa: E402

from connectors.wajs import find_chromium  # noqa: E402
from support.wa_fixture import FIXTURE_DIR, StaticServer  # noqa: E402


async def _until(predicate, timeout: float = 600.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def _status(bridged: Bridged, wanted: str) -> None:
    headers = {"Authorization": f"Bearer {bridged.token}"}
    async with asyncio.timeout(120), bridged.app.client(headers=headers) as client:
        while (await client.get(f"/api/instances/{bridged.instance_id}")).json()[
            "status"
        ] != wanted:
            await asyncio.sleep(0.05)


async def one_run(
    messages: int, chats: int, server: StaticServer, chromium: str
) -> dict[str, float]:
    async with connected_app(server, chromium) as bridged:
        app, token = bridged.app, bridged.token
        instance_id = bridged.instance_id
        phone = bridged.phone()
        numbers = [f"55119{n:08d}" for n in range(100, 100 + chats)]

        began = time.perf_counter()
        for i in range(messages):
            await phone.deliver(**{"from": numbers[i % chats], "body": f"live {i}"})
        await _until(lambda: len(bridged.inbound_calls()) >= messages)
        live_s = time.perf_counter() - began

        for i in range(messages):
            body = f"missed {i}"
            await phone.deliver(**{"from": numbers[i % chats], "body": body, "offline": True})
        headers = {"Authorization": f"Bearer {token}"}
        async with app.client(headers=headers) as client:
            await client.post(f"/api/instances/{instance_id}/stop")
            began = time.perf_counter()
            await client.post(f"/api/instances/{instance_id}/start")
        await _status(bridged, "connected")
        reconnect_s = time.perf_counter() - began
        await _until(lambda: len(bridged.inbound_calls()) >= 2 * messages)
        total_s = time.perf_counter() - began
        await asyncio.sleep(1.0)
        bodies = [m["message"] for m in bridged.inbound_calls()]
        if len(bodies) != 2 * messages or len(set(bodies)) != len(bodies):
            raise SystemExit(f"not exactly once: {len(bodies)} posts, {len(set(bodies))} distinct")
    return {
        "live_s": live_s,
        "reconnect_s": reconnect_s,
        "catch_up_s": total_s - reconnect_s,
        "total_s": total_s,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium: install Debian's chromium")
    with StaticServer(FIXTURE_DIR) as server:
        runs = [
            await one_run(args.messages, args.chats, server, chromium) for _ in range(args.runs)
        ]
    print(f"catch-up of {args.messages} messages over {args.chats} chats, {args.runs} runs")
    for name in ("live_s", "reconnect_s", "catch_up_s", "total_s"):
        values = [r[name] for r in runs]
        print(f"  {name:12} median {statistics.median(values):7.2f} s   runs {values}")
    live = statistics.median(r["live_s"] for r in runs)
    catch_up = statistics.median(r["catch_up_s"] for r in runs)
    print(f"  catch-up / live delivery of the same messages: {catch_up / live:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
