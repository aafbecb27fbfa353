"""One process spending a location's GHL budget through the shared Redis window:
`python _limit_worker.py URL GO COUNT` prints the time of each request it was let send."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from ghl_app.ghl.ratelimit_redis import RedisRateLimiter


async def main(url: str, go: str, requests: int) -> None:
    limiter = RedisRateLimiter(url, max_requests=20, interval=1.0)
    print("ready", flush=True)
    while not os.path.exists(go):
        await asyncio.sleep(0.005)
    for _ in range(requests):
        await limiter.acquire("loc-shared")
        print(f"{time.time():.6f}", flush=True)
    await limiter.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
