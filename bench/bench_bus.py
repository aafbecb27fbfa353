"""Event latency through the bus, in one process vs across processes on Redis (issue 17).
Run on demand, not in CI:

    .venv/bin/python bench/bench_bus.py [--events 2000] [--rate 500] [--runs 3]

A publisher sends `--events` events at `--rate` per second on one instance's topic; a subscriber
records when each arrives. In process: both on one event loop (`InProcessEventBus`). Across
processes: the publisher is another process and the events go through a real Redis
(`RedisEventBus`, a throwaway redis-server on loopback), as from a worker's engine to a web
node's WebSocket. Latency is arrival minus the publisher's send time (one machine, one clock).
Prints medians and p99 per run and the median of runs, and checks order and completeness.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ghl_app.bus import InProcessEventBus  # noqa: E402
from ghl_app.bus.base import EventBus, Subscription  # noqa: E402
from ghl_app.bus.redis import RedisEventBus  # noqa: E402
from support.redis_server import redis_server  # noqa: E402

TOPIC = "instance:bench"

_PUBLISHER = """
import asyncio, sys, time
from ghl_app.bus.redis import RedisEventBus
async def main(url, events, rate):
    bus = RedisEventBus(url)
    await bus.start()
    began = time.perf_counter()
    for n in range(events):
        await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
        await bus.publish(sys.argv[4], {"seq": n, "sent": time.time()})
    await bus.close()
asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
"""


async def _collect(subscription: Subscription, events: int) -> list[float]:
    latencies = []
    for expected in range(events):
        event = await asyncio.wait_for(subscription.get(), 30)
        latencies.append((time.time() - event["sent"]) * 1000)
        assert event["seq"] == expected, f"out of order: {event['seq']} for {expected}"
    return latencies


async def in_process(events: int, rate: float) -> list[float]:
    bus = InProcessEventBus()
    subscription = bus.subscribe(TOPIC)
    collector = asyncio.create_task(_collect(subscription, events))
    began = time.perf_counter()
    for n in range(events):
        await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
        await bus.publish(TOPIC, {"seq": n, "sent": time.time()})
    return await collector


async def across_processes(url: str, events: int, rate: float) -> list[float]:
    bus: EventBus = RedisEventBus(url)
    await bus.start()
    try:
        subscription = bus.subscribe(TOPIC)
        assert await subscription.ready()
        collector = asyncio.create_task(_collect(subscription, events))
        publisher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PUBLISHER,
            url,
            str(events),
            str(rate),
            TOPIC,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=subprocess.PIPE,
        )
        _, errors = await publisher.communicate()
        assert publisher.returncode == 0, errors.decode()[-2000:]
        return await collector
    finally:
        await bus.close()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    local: list[tuple[float, float]] = []
    remote: list[tuple[float, float]] = []
    with redis_server() as url:
        for number in range(args.runs):
            one = await in_process(args.events, args.rate)
            two = await across_processes(url, args.events, args.rate)
            local.append((statistics.median(one), _p99(one)))
            remote.append((statistics.median(two), _p99(two)))
            print(
                f"run {number + 1}: in process {local[-1][0]:.3f} / {local[-1][1]:.3f} ms, "
                f"across processes on Redis {remote[-1][0]:.3f} / {remote[-1][1]:.3f} ms "
                f"(median / p99; load {os.getloadavg()[0]:.1f})"
            )
    lm, lp = (statistics.median(x[i] for x in local) for i in (0, 1))
    rm, rp = (statistics.median(x[i] for x in remote) for i in (0, 1))
    print(f"\n{args.events} events at {args.rate:.0f}/s, median of {args.runs} runs, all in order")
    print("| path | median | p99 |")
    print("|---|---|---|")
    print(f"| in one process | {lm:.3f} ms | {lp:.3f} ms |")
    print(f"| across processes, Redis | {rm:.3f} ms | {rp:.3f} ms |")
    print(f"| ratio | {rm / lm:.0f}x | {rp / lp:.0f}x |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
