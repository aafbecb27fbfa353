"""Issue 17's bench: web and worker roles on a real PostgreSQL and Redis (all on loopback).

    .venv/bin/python bench/bench_cluster.py [--runs 3] [--sessions 8] [--qrs 40]

Three figures, each the median of `--runs` runs, with its baseline from the same run:
1. Sessions per worker: `--sessions` numbers started through one web node at once, with one
   worker and with two: how they spread, and the time until every one shows its QR.
2. Failover: two workers, two linked numbers on each; the whole of worker-1 killed (SIGKILL,
   its browsers too): seconds until both its numbers run linked on worker-2, restored from the
   profile store without a QR, at the default LEASE_SECONDS (15 s).
3. Event latency engine -> WebSocket: the fixture page rotates its QR every 250 ms; each QR
   event is stamped by the engine (`expires_at` minus the engine's fixed 20 s TTL for a
   rotated QR) and timed on arrival at a page's WebSocket: one process (`--role all`,
   in-process bus) against a worker publishing through Redis to a web node.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from connectors._page_state import _NEXT_QR_TTL  # noqa: E402
from connectors.wajs import find_chromium  # noqa: E402
from ghl_app.demo.fake_ghl import run_fake_ghl  # noqa: E402
from support.cluster import Cluster, Node, app_cluster  # noqa: E402
from support.cluster_app import (  # noqa: E402
    PageClient,
    cluster_env,
    link_all,
    phone_number,
    seed_cluster_location,
    wait_login_snapshots,
)
from support.phone_hub import PhoneHubServer, phone_hub  # noqa: E402
from support.postgres import create_database, postgres_server  # noqa: E402
from support.redis_server import redis_server  # noqa: E402

Scenario = Callable[[Cluster, PhoneHubServer, str], Awaitable[dict[str, float]]]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _engines(node: Node) -> int:
    return int((await node.metrics())["ghl_whatsapp_engines_running"])


def spread(workers: int, sessions: int) -> Scenario:
    async def run(cluster: Cluster, hub: PhoneHubServer, token: str) -> dict[str, float]:
        web = cluster.add("web-1", role="web")
        nodes = [
            cluster.add(
                f"worker-{n}", role="worker", MAX_SESSIONS="20", MAX_SESSIONS_PER_LOCATION="20"
            )
            for n in range(workers)
        ]
        await cluster.start_all()
        page = PageClient(web.url, token)
        ids = [await page.create_instance(f"S{n}") for n in range(sessions)]
        began = time.monotonic()
        async with page.socket() as ws:
            for instance_id in ids:
                await ws.start(instance_id)
            seen: set[str] = set()
            while len(seen) < len(ids):
                frame = await ws.next_frame("qr", timeout=120)
                seen.add(str(frame["instance_id"]))
        all_qr = time.monotonic() - began
        counts = [await _engines(n) for n in nodes]
        return {"all_qr_s": all_qr, "most_on_one": max(counts), "least_on_one": min(counts)}

    return run


async def failover(cluster: Cluster, hub: PhoneHubServer, token: str) -> dict[str, float]:
    env = {"PROFILE_SNAPSHOT_SECONDS": "5", "MAX_SESSIONS_PER_LOCATION": "10"}
    web = cluster.add("web-1", role="web")
    worker_1 = cluster.add("worker-1", role="worker", **env)
    worker_2 = cluster.add("worker-2", role="worker", **env)
    await cluster.start_all()
    page = PageClient(web.url, token)
    phones = {await page.create_instance(f"F{n}"): phone_number(200 + n) for n in range(4)}
    first = await link_all(page, hub, phones)
    doomed = [i for i in phones if (worker_1.profiles_dir / i).exists()]
    await wait_login_snapshots(cluster.env, doomed)
    worker_1.kill(tree=True)
    killed = time.monotonic()
    while not all(
        (worker_2.profiles_dir / i).exists()
        and any(p.page_id != first[i] for p in hub.pages_of(phones[i], alive_within=1.0))
        for i in doomed
    ):
        if time.monotonic() - killed > 180:
            raise RuntimeError(f"no failover within 180 s: {cluster.logs()}")
        await asyncio.sleep(0.1)
    return {"failover_s": time.monotonic() - killed, "numbers_moved": len(doomed)}


def latency(split: bool, qrs: int) -> Scenario:
    async def run(cluster: Cluster, hub: PhoneHubServer, token: str) -> dict[str, float]:
        fast = hub.wa_web_url(auto_ack=1, qr_first_ms=300, qr_ms=250, qr_max=qrs + 20)
        if split:
            web = cluster.add("web-1", role="web")
            cluster.add("worker-1", role="worker", WA_WEB_URL=fast)
        else:  # one process, its events on the in-process bus
            web = cluster.add("all-1", role="all", WA_WEB_URL=fast, REDIS_URL="")
        await cluster.start_all()
        page = PageClient(web.url, token)
        instance_id = await page.create_instance("L")
        delays: list[float] = []
        async with page.socket() as ws:
            await ws.start(instance_id)
            await ws.next_qr(instance_id)  # the first, whose TTL differs
            for _ in range(qrs):
                qr = await ws.next_qr(instance_id, timeout=10)
                arrived = time.time()
                stamped = datetime.fromisoformat(qr["expires_at"]) - _NEXT_QR_TTL
                delays.append((arrived - stamped.timestamp()) * 1000)
        return {"median_ms": statistics.median(delays), "p99_ms": _pct(delays, 0.99)}

    return run


async def measure(
    base: str, redis: str, chromium: str, scenario: Scenario, runs: int
) -> list[dict[str, float]]:
    results = []
    for _ in range(runs):
        root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
        database = await create_database(base, f"b_{uuid.uuid4().hex[:10]}")
        with phone_hub() as hub:
            async with run_fake_ghl(rate_limit=(1000, 10.0)) as fake:
                env = cluster_env(
                    fake=fake,
                    hub=hub,
                    database_url=database,
                    redis_url=redis,
                    chromium_path=chromium,
                    root=root,
                    LOG_LEVEL="WARNING",
                )
                token = await seed_cluster_location(env, fake, root)
                async with app_cluster(env, root / "nodes") as cluster:
                    results.append(await scenario(cluster, hub, token))
    return results


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def _show(label: str, results: list[dict[str, float]]) -> dict[str, float]:
    median = _median(results)
    shown = ", ".join(f"{k}={v:.2f}" for k, v in median.items())
    print(f"  {label}: {shown}   (runs: {[round(next(iter(r.values())), 2) for r in results]})")
    return median


async def main(args: argparse.Namespace) -> None:
    chromium = find_chromium()
    assert chromium, "no Chromium"
    with postgres_server() as base, redis_server() as redis:
        print(f"sessions per worker ({args.sessions} started at once through one web node):")
        one = _show(
            "1 worker ", await measure(base, redis, chromium, spread(1, args.sessions), args.runs)
        )
        two = _show(
            "2 workers", await measure(base, redis, chromium, spread(2, args.sessions), args.runs)
        )
        print(f"  time to every QR, 2 workers / 1 worker: {two['all_qr_s'] / one['all_qr_s']:.2f}")
        print("failover (kill -9 of a worker with 2 linked numbers, LEASE_SECONDS=15):")
        _show(
            "kill -> linked on the other worker",
            await measure(base, redis, chromium, failover, args.runs),
        )
        print(f"event latency engine -> WebSocket ({args.qrs} QR events per run):")
        local = _show(
            "one process (in-process bus)",
            await measure(base, redis, chromium, latency(False, args.qrs), args.runs),
        )
        split = _show(
            "worker -> Redis -> web node  ",
            await measure(base, redis, chromium, latency(True, args.qrs), args.runs),
        )
        print(
            f"  across nodes / one process: median x{split['median_ms'] / local['median_ms']:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--qrs", type=int, default=40)
    asyncio.run(main(parser.parse_args()))
