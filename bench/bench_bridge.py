"""Message bridge (WhatsApp -> GHL) benchmark: `.venv/bin/python bench/bench_bridge.py`.

Synthetic `connectors.events.Message` events go straight into `InboundBridge.store` (what the
engine's event sink does), on a fresh migrated SQLite file per run, the real JobQueue and the real
GhlClient over real HTTP to the fake GHL (ghl_app/demo/fake_ghl.py) on 127.0.0.1, in a process
of its own (`bench/_remote_fake.py`), so only our CPU is counted. Logging is configured as in
production (INFO, key=value lines) into /dev/null, so formatting costs are included.

1. Limiter off (our overhead):
   - unloaded latency: one message at a time, `store()` called -> the fake receives the
     inbound call; the first message of a chat (contact + conversation found/created) and the
     following ones (steady state) reported apart;
   - throughput: N messages from `--sessions` WhatsApp sessions at once (one location each, as
     a process serves many sub-accounts), each session's events fed one after the other as its
     engine delivers them, over K new chats; first `store()` -> last inbound call received; then
     the same burst again over the now-known chats; then both with one session alone.
2. Limiter on: one location at 100 requests per `--window` s (GHL: 100 / 10 s; shortened by
   default to keep the run short), a backlog of pre-mapped chats (1 GHL call per message):
   requests per window achieved, 429s the fake sent, 429s that reached a job. Then 20 locations
   in parallel at GHL's real 100 / 10 s, each with a backlog beyond its budget: messages each
   delivered within one 10 s window (min / median / max).
Several runs; the figures printed are medians across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time

sys.path.insert(0, "tests")
sys.path.insert(0, ".")

from bench._bridge_rig import OPTIONS, cpu_s, percentile, premap_chats, rig
from ghl_app.logs import configure_logging
from ghl_app.models import Job, JobStatus

INBOUND = "/conversations/messages/inbound"


# -- 1. limiter off -------------------------------------------------------------------------------


async def overhead_run(
    messages: int, chats: int, latency_samples: int, sessions: int
) -> dict[str, float]:
    # One location (sub-account) per WhatsApp session, as a process serves many of them.
    locations = [f"loc-bench-{k:02d}" for k in range(sessions)]
    unlimited = (10**9, 10.0)
    async with rig(locations=locations, limiter=None, fake_limit=unlimited) as r:
        # Unloaded: one at a time. Chats 0..k-1 start cold (contact + conversation on GHL).
        lat_chats = max(1, latency_samples // 4)
        first: list[str] = []
        steady: list[str] = []
        for n in range(latency_samples):
            wa_id = await r.store(locations[0], 10_000 + n % lat_chats)
            await r.wait_received([wa_id], timeout=30)
            (first if n < lat_chats else steady).append(wa_id)
        first_ms = r.latencies_ms(first)
        steady_ms = r.latencies_ms(steady)
        out: dict[str, float] = {
            "first_median_ms": statistics.median(first_ms),
            "steady_median_ms": statistics.median(steady_ms),
            "steady_p99_ms": percentile(steady_ms, 0.99),
        }

        async def feed(location_id: str, count: int, chat_base: int, chat_count: int) -> list[str]:
            # One session's events arrive one after the other: the engine's dispatcher awaits
            # the sink (`InboundBridge.store`) for each before the next.
            return [await r.store(location_id, chat_base + n % chat_count) for n in range(count)]

        # Bursts: `sessions` sessions feeding at once, each over its share of the chats (the
        # first message of each chat creates its contact), then the same again over the now
        # known chats; then one session alone, the same way, over chats of its own.
        per_session = chats // sessions
        bursts = [
            ("cold", locations, 0, per_session),
            ("warm", locations, 0, per_session),
            ("one_cold", locations[:1], 100_000, chats),
            ("one_warm", locations[:1], 100_000, chats),
        ]
        for label, feeders, chat_base, chat_count in bursts:
            share = messages // len(feeders)
            cpu_begin = cpu_s()
            begin = time.perf_counter()
            fed = await asyncio.gather(
                *(feed(location, share, chat_base, chat_count) for location in feeders)
            )
            stored = time.perf_counter()
            ids = [wa_id for one in fed for wa_id in one]
            await r.wait_received(ids)
            end = max(r.fake.received[i] for i in ids)
            out[f"{label}_cpu_ms"] = (cpu_s() - cpu_begin) * 1000 / len(ids)
            lat = r.latencies_ms(ids)
            out[f"{label}_msgs_s"] = len(ids) / (end - begin)
            out[f"{label}_store_s"] = len(ids) / (stored - begin)
            out[f"{label}_load_median_ms"] = statistics.median(lat)
            out[f"{label}_load_p99_ms"] = percentile(lat, 0.99)
        return out


async def remote_run(messages: int, chats: int, ghl_latency_s: float) -> dict[str, float]:
    """Throughput when every GHL call takes a real round trip (limiter off, known chats)."""
    location = "loc-remote"
    unlimited = (10**9, 10.0)
    async with rig(
        locations=[location],
        limiter=None,
        fake_limit=unlimited,
        start_queue=False,
        ghl_latency_s=ghl_latency_s,
    ) as r:
        await premap_chats(r, location, chats)
        await r.queue.start(r.supervisor)
        ids: list[str] = []
        begin = time.perf_counter()
        for n in range(messages):
            ids.append(await r.store(location, n % chats))
        await r.wait_received(ids)
        end = max(r.fake.received[i] for i in ids)
        lat = r.latencies_ms(ids)
        return {
            "msgs_s": messages / (end - begin),
            "load_median_ms": statistics.median(lat),
            "load_p99_ms": percentile(lat, 0.99),
        }


# -- 2. limiter on --------------------------------------------------------------------------------


async def one_location_run(window: float, messages: int, chats: int) -> dict[str, float]:
    location = "loc-limited"
    limit = (100, window)
    async with rig(locations=[location], limiter=limit, fake_limit=limit, start_queue=False) as r:
        # A backlog first, then the queue: the limiter, not the feed, sets the pace.
        await premap_chats(r, location, chats)
        fed = time.perf_counter()
        ids = [await r.store(location, n % chats) for n in range(messages)]
        fed = time.perf_counter() - fed
        await r.queue.start(r.supervisor)
        await r.wait_received(ids, timeout=messages / 100 * window * 3 + 30)
        times = sorted(t for t, _, status, _ in await r.fake.call_log() if status == 200)
        start = times[0]
        # Requests accepted per full window after the first (the first is the initial burst).
        per_window: list[int] = []
        k = 1
        while start + (k + 1) * window <= times[-1]:
            lo, hi = start + k * window, start + (k + 1) * window
            per_window.append(sum(1 for t in times if lo <= t < hi))
            k += 1
        max_in_any_window = max(
            sum(1 for u in times[i:] if u < t + window) for i, t in enumerate(times)
        )
        failed_429 = await Job.filter(last_error__contains="429").count()
        return {
            "store_only_msgs_s": messages / fed,
            "req_per_window": statistics.median(per_window) if per_window else float("nan"),
            "req_s": (len(times) - 100) / (times[-1] - start) if times[-1] > start else 0.0,
            "max_in_window": float(max_in_any_window),
            "fake_429": float(await r.rejected_by_limit()),
            "jobs_saw_429": float(failed_429),
            "jobs_failed": float(await Job.filter(status=JobStatus.FAILED).count()),
        }


async def many_locations_run(
    locations: int, window: float, backlog: int, chats: int, hot_backlog: int
) -> dict[str, float]:
    """One hot location queues `hot_backlog` messages (over as many chats) before the others'
    `backlog` each: its jobs are the oldest, so a queue that let a job sleep on its location's
    budget would give the hot location every worker. Each other location must still deliver
    its backlog in the first window."""
    names = [f"loc-{n:03d}" for n in range(locations)]
    hot, others = names[0], names[1:]
    limit = (100, window)
    async with rig(locations=names, limiter=limit, fake_limit=limit, start_queue=False) as r:
        await premap_chats(r, hot, hot_backlog)
        for name in others:
            await premap_chats(r, name, chats)
        for n in range(hot_backlog):
            await r.store(hot, n)
        # The others' backlogs, interleaved as messages from many numbers arrive.
        for n in range(backlog):
            for name in others:
                await r.store(name, n % chats)
        begin = time.perf_counter()
        await r.queue.start(r.supervisor)
        await asyncio.sleep(max(0.0, begin + window - time.perf_counter()))
        cutoff = begin + window
        delivered = {name: 0 for name in names}
        fake_429 = 0
        for t, path, status, resource in await r.fake.call_log():
            fake_429 += status == 429
            if path == INBOUND and status == 200 and t < cutoff and resource:
                delivered[resource] += 1
        counts = sorted(delivered[name] for name in others)
        failed = await Job.filter(status=JobStatus.FAILED).count()
        return {
            "min": float(counts[0]),
            "median": float(statistics.median(counts)),
            "max": float(counts[-1]),
            "hot": float(delivered[hot]),
            "total": float(sum(delivered.values())),
            "fake_429": float(fake_429),
            "jobs_failed": float(failed),
        }


# -- report ------------------------------------------------------------------------------------


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument(
        "--sessions", type=int, default=10, help="WhatsApp sessions feeding the throughput bursts"
    )
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--window", type=float, default=1.0, help="one-location limiter window, s")
    parser.add_argument("--limited-messages", type=int, default=600)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--locations-window", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=30, help="messages per other location")
    parser.add_argument("--hot-backlog", type=int, default=400, help="the hot location's")
    parser.add_argument("--ghl-latency-ms", type=float, default=150.0)
    parser.add_argument("--skip", default="", help="comma list of: overhead,one,many,remote")
    parser.add_argument("--concurrency", type=int, default=0, help="JOB_CONCURRENCY")
    parser.add_argument("--no-defer", action="store_true", help="jobs wait for budget in place")
    args = parser.parse_args()
    if args.no_defer:
        OPTIONS.budget_wait_s = None
    OPTIONS.concurrency = args.concurrency
    skip = set(filter(None, args.skip.split(",")))

    configure_logging("INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 -- lives as long as the process
    for noisy in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # the fake's logs, not ours

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    if "overhead" not in skip:
        runs = []
        for n in range(args.runs):
            runs.append(
                await overhead_run(args.messages, args.chats, args.latency_samples, args.sessions)
            )
            print(f"overhead run {n + 1}: " + _fmt(runs[-1]), flush=True)
        m = medians(runs)
        print(f"\n## Limiter off, medians of {args.runs} runs")
        print("| figure | value | target |\n|---|---|---|")
        print(
            "| unloaded latency, first message of a chat (median) | "
            f"{m['first_median_ms']:.1f} ms | |"
        )
        print(f"| unloaded latency, steady (median) | {m['steady_median_ms']:.1f} ms | ≤ 20 ms |")
        print(f"| unloaded latency, steady (p99) | {m['steady_p99_ms']:.1f} ms | |")
        bursts = (
            ("cold", f"{args.sessions} sessions at once, {args.chats} new chats"),
            ("warm", f"{args.sessions} sessions at once, known chats"),
            ("one_cold", f"1 session alone, {args.chats} new chats"),
            ("one_warm", "1 session alone, known chats"),
        )
        for label, what in bursts:
            target = "≥ 200 msg/s" if label in ("cold", "warm") else ""
            print(
                f"| throughput, {args.messages} msgs, {what} | {m[label + '_msgs_s']:.0f} msg/s"
                f" | {target} |"
            )
            print(f"| `store()` rate, {what} | {m[label + '_store_s']:.0f} msg/s | |")
            print(f"| our process CPU per message, {what} | {m[label + '_cpu_ms']:.2f} ms | |")
            print(
                f"| latency under that load, {what} (median / p99) | "
                f"{m[label + '_load_median_ms']:.0f} / {m[label + '_load_p99_ms']:.0f} ms | |"
            )
    if "one" not in skip:
        runs = []
        for n in range(args.runs):
            runs.append(await one_location_run(args.window, args.limited_messages, args.chats))
            print(f"one-location run {n + 1}: " + _fmt(runs[-1]), flush=True)
        m = medians(runs)
        print(
            f"\n## Limiter on, 1 location at 100 / {args.window:g} s, medians of {args.runs} runs"
        )
        print("| figure | value |\n|---|---|")
        print(f"| accepted requests per full window after the first | {m['req_per_window']:.0f} |")
        print(f"| accepted requests / s after the initial burst | {m['req_s']:.1f} |")
        print(f"| most requests in any sliding window | {m['max_in_window']:.0f} |")
        print(f"| 429s the fake sent | {m['fake_429']:.0f} |")
        print(
            "| `store()` rate with the queue idle (known chats) | "
            f"{m['store_only_msgs_s']:.0f} msg/s |"
        )
        print(
            "| jobs that saw a 429 / failed jobs | "
            f"{m['jobs_saw_429']:.0f} / {m['jobs_failed']:.0f} |"
        )
    if "many" not in skip:
        runs = []
        for n in range(args.runs):
            runs.append(
                await many_locations_run(
                    args.locations,
                    args.locations_window,
                    args.backlog,
                    args.chats,
                    args.hot_backlog,
                )
            )
            print(f"many-locations run {n + 1}: " + _fmt(runs[-1]), flush=True)
        m = medians(runs)
        print(
            f"\n## Limiter on, {args.locations} locations at 100 / {args.locations_window:g} s: "
            f"one hot location with {args.hot_backlog} queued first, then {args.backlog} for "
            f"each other, medians of {args.runs} runs"
        )
        print("| figure | value |\n|---|---|")
        print(
            f"| delivered per other location in the first {args.locations_window:g} s "
            f"(min / median / max) | {m['min']:.0f} / {m['median']:.0f} / {m['max']:.0f} |"
        )
        print(f"| delivered by the hot location in that window | {m['hot']:.0f} |")
        print(f"| delivered in total in that window | {m['total']:.0f} |")
        print(
            f"| 429s the fake sent / failed jobs | {m['fake_429']:.0f} / {m['jobs_failed']:.0f} |"
        )
    if "remote" not in skip:
        runs = []
        for n in range(args.runs):
            runs.append(await remote_run(args.messages, args.chats * 4, args.ghl_latency_ms / 1000))
            print(f"remote run {n + 1}: " + _fmt(runs[-1]), flush=True)
        m = medians(runs)
        print(
            f"\n## Limiter off, every GHL call {args.ghl_latency_ms:g} ms away, "
            f"{args.chats * 4} known chats, medians of {args.runs} runs"
        )
        print("| figure | value |\n|---|---|")
        print(f"| throughput | {m['msgs_s']:.0f} msg/s |")
        print(
            "| latency under that load (median / p99) | "
            f"{m['load_median_ms']:.0f} / {m['load_p99_ms']:.0f} ms |"
        )


def _fmt(run: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.1f}" for k, v in run.items())


if __name__ == "__main__":
    if "--asyncio-loop" in sys.argv:
        sys.argv.remove("--asyncio-loop")
        asyncio.run(main())
    else:
        # Production runs under uvicorn, whose default loop is uvloop when it is installed
        # (it is: uvicorn[standard]); measure on the same loop.
        import uvloop

        uvloop.run(main())
