"""A job-queue process of its own on PostgreSQL, for test_job_queue_postgres.py.

`python _pg_worker.py seed URL KEYS PER_KEY` applies the migrations and queues the jobs;
`python _pg_worker.py work URL LOG GO` prints "ready", waits for the file GO (so every worker
starts claiming at once), then runs a queue until no job is left, writing one line when a handler
starts and one when it ends (`start|end key seq pid time`) to LOG.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

from tortoise import Tortoise

from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.jobs import JobQueue
from ghl_app.models import Job, JobStatus
from ghl_app.supervisor import TaskSupervisor


async def seed(url: str, keys: int, per_key: int) -> None:
    await apply_migrations(url)
    await Tortoise.init(config=tortoise_config(url))
    queue = JobQueue()
    # Interleaved, as chats' messages arrive: a key's jobs are not contiguous ids.
    for seq in range(per_key):
        for key in range(keys):
            await queue.enqueue("sync", {"seq": seq}, ordering_key=f"chat-{key}")
    await Tortoise.close_connections()


async def work(url: str, log_path: str, go: str) -> None:
    await Tortoise.init(config=tortoise_config(url))
    supervisor = TaskSupervisor()
    queue = JobQueue(concurrency=4, lease_s=2, poll_s=0.05, base_backoff_s=0.01)
    pid = os.getpid()
    with open(log_path, "a", buffering=1) as log:

        async def handler(job: Job) -> None:
            key, seq = job.ordering_key, job.payload["seq"]
            log.write(f"start {key} {seq} {pid} {time.time():.6f}\n")
            await asyncio.sleep(random.uniform(0.005, 0.03))
            log.write(f"end {key} {seq} {pid} {time.time():.6f}\n")

        queue.register("sync", handler)
        print("ready", flush=True)
        while not os.path.exists(go):
            await asyncio.sleep(0.01)
        await queue.start(supervisor)
        while await Job.exclude(status=JobStatus.DONE).exists():
            await asyncio.sleep(0.1)
        await queue.stop(grace_s=1)
        await supervisor.shutdown()
    await Tortoise.close_connections()


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        asyncio.run(seed(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        asyncio.run(work(sys.argv[2], sys.argv[3], sys.argv[4]))
