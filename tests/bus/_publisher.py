"""Another process publishing on the Redis bus: `python _publisher.py URL COUNT`.

Publishes COUNT events alternating between `instance:a` and `instance:b`, each with its
sequence number in its topic, as fast as it can, then exits.
"""

from __future__ import annotations

import asyncio
import sys

from ghl_app.bus.redis import RedisEventBus


async def main(url: str, count: int) -> None:
    bus = RedisEventBus(url)
    await bus.start()
    for n in range(count):
        topic = "instance:a" if n % 2 == 0 else "instance:b"
        await bus.publish(topic, {"type": "status", "seq": n // 2, "from": "publisher"})
    await bus.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
