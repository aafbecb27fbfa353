"""Job queue overhead on SQLite, run on demand: `.venv/bin/python bench/bench_jobs.py`.

Measures, with a no-op handler, on a fresh migrated SQLite file per run:
- latency: one job at a time, enqueue call -> handler start (median, p99);
- throughput: N jobs over many ordering keys enqueued as fast as one producer can, first enqueue
  -> last job marked done (jobs/s), plus enqueue -> start latency under that load.
Several runs; the figures printed are medians across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tortoise import Tortoise

from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.jobs import JobQueue
from ghl_app.models import Job, JobStatus
from ghl_app.supervisor import TaskSupervisor


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _one_run(
    jobs: int, keys: int, latency_samples: int, concurrency: int, url_params: str
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite://{Path(tmp) / 'bench.db'}{url_params}"
        await apply_migrations(url)
        await Tortoise.init(config=tortoise_config(url))
        try:
            return await _measure(jobs, keys, latency_samples, concurrency)
        finally:
            await Tortoise.close_connections()


async def _measure(
    jobs: int, keys: int, latency_samples: int, concurrency: int
) -> dict[str, float]:
    started: dict[int, float] = {}
    enqueued: dict[int, float] = {}
    arrived = asyncio.Event()

    async def handler(job: Job) -> None:
        started[job.payload["n"]] = time.perf_counter()
        arrived.set()

    queue = JobQueue(concurrency=concurrency, poll_s=0.5)
    queue.register("noop", handler)
    supervisor = TaskSupervisor()
    await queue.start(supervisor)
    try:
        # Latency, unloaded: one job in flight at a time.
        for n in range(latency_samples):
            arrived.clear()
            enqueued[n] = time.perf_counter()
            await queue.enqueue("noop", {"n": n}, ordering_key=f"lat-{n % 5}")
            await asyncio.wait_for(arrived.wait(), timeout=10)
        idle_latency = [(started[n] - enqueued[n]) * 1000 for n in range(latency_samples)]
        while await Job.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
            await asyncio.sleep(0.01)

        # Throughput: a burst over many keys.
        started.clear()
        enqueued.clear()
        begin = time.perf_counter()
        for n in range(jobs):
            enqueued[n] = time.perf_counter()
            await queue.enqueue("noop", {"n": n}, ordering_key=f"chat-{n % keys}")
        deadline = time.monotonic() + 120
        while await Job.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the burst did not drain within 120 s")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - begin
        loaded_latency = [(started[n] - enqueued[n]) * 1000 for n in range(jobs)]
    finally:
        await queue.stop(grace_s=5)
        await supervisor.shutdown()
    return {
        "idle_median_ms": statistics.median(idle_latency),
        "idle_p99_ms": _percentile(idle_latency, 0.99),
        "jobs_per_s": jobs / elapsed,
        "loaded_median_ms": statistics.median(loaded_latency),
        "loaded_p99_ms": _percentile(loaded_latency, 0.99),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--url-params",
        default="",
        help="appended to the SQLite URL, e.g. '?synchronous=NORMAL' (default: the app's own)",
    )
    args = parser.parse_args()
    results = []
    for run in range(1, args.runs + 1):
        result = await _one_run(
            args.jobs, args.keys, args.latency_samples, args.concurrency, args.url_params
        )
        results.append(result)
        print(f"run {run}: " + "  ".join(f"{k}={v:.1f}" for k, v in result.items()))
    print(
        f"median of {args.runs} runs ({args.jobs} jobs over {args.keys} keys, "
        f"concurrency {args.concurrency}, no-op handler, SQLite{args.url_params}):"
    )
    for key in results[0]:
        print(f"  {key:18s} {statistics.median(r[key] for r in results):8.1f}")


if __name__ == "__main__":
    asyncio.run(main())
