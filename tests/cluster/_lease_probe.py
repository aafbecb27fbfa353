"""Leases on a real PostgreSQL, in a process of its own (Tortoise binds its dialect per process):
`python _lease_probe.py URL` prints one JSON line of what each step saw (test_leases_postgres.py).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from ghl_app.cluster.leases import Leases
from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.models import Instance, InstanceStatus, Location


async def main(url: str) -> None:
    await apply_migrations(url)
    await Tortoise.init(config=tortoise_config(url))
    await Location.create(location_id="loc-1", company_id="c-1")
    instance = await Instance.create(
        location_id="loc-1", name="one", status=InstanceStatus.CONNECTED
    )
    iid: uuid.UUID = instance.id
    a, b = Leases("worker-a", 1.0), Leases("worker-b", 1.0)
    seen: dict[str, object] = {}
    await a.heartbeat(2)
    await b.heartbeat(3)
    seen["orphans_before"] = [str(o) for o in await a.orphans()]
    seen["a_takes"] = await a.acquire(iid)
    seen["b_while_a_holds"] = await b.acquire(iid)
    seen["owner"] = list(await b.owner_of(iid) or ())
    seen["workers"] = [(w.node_id, w.free) for w in await a.workers()]
    seen["orphans_while_held"] = [str(o) for o in await a.orphans()]
    seen["a_renews"] = {str(k): v for k, v in (await a.renew()).items()}
    await asyncio.sleep(1.3)  # a is paused past its lease
    seen["b_after_expiry"] = await b.acquire(iid)
    seen["a_renews_late"] = {str(k): v for k, v in (await a.renew()).items()}
    async with in_transaction() as db:
        seen["a_fenced"] = await a.holds(db, iid, 1)
    async with in_transaction() as db:
        seen["b_holds"] = await b.holds(db, iid, int(seen["b_after_expiry"]))  # type: ignore[call-overload]
    await a.release(iid, 1)  # a stale release does nothing
    seen["owner_after_stale_release"] = list(await a.owner_of(iid) or ())
    await b.release(iid, 2)
    seen["owner_after_release"] = await a.owner_of(iid)
    seen["a_again"] = await a.acquire(iid)
    await Tortoise.close_connections()
    print(json.dumps(seen, default=str))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
