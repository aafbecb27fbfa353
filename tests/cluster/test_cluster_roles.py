"""Web and worker roles on one PostgreSQL and one Redis (issue 17, "Must show").

Two web nodes take the page's commands; two workers run the engines. Instances spread over the
workers by free capacity; a page on web-1 sees the QR of an instance running on worker-2 and
sees it connect; a worker paused past its lease never runs an engine beside the worker that
took its numbers over (the phone hub counts the pages of each device).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from bridge.conftest import LOCATION, SIGNING_KEY

from ghl_app.demo.fake_ghl import FakeGhl
from support.cluster import Cluster, Node
from support.cluster_app import (
    PageClient,
    inbound_posts,
    link_all,
    phone_number,
    posted_by,
    wait_login_snapshots,
)
from support.phone_hub import PhoneHubServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

# Sessions per worker, and per location on it (the default share would be a quarter).
CAPACITY = {"MAX_SESSIONS": "10", "MAX_SESSIONS_PER_LOCATION": "10"}


def running_on(node: Node, instance_id: str) -> bool:
    """The instance's browser runs on this node (its Chromium names the profile folder)."""
    return any(
        f"--user-data-dir={node.profiles_dir / instance_id}" in " ".join(_cmd(p))
        for p in node.chromium_pids()
    )


def _cmd(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


async def _engines(node: Node) -> int:
    return int((await node.metrics())["ghl_whatsapp_engines_running"])


async def test_instances_spread_over_workers_and_a_qr_crosses_nodes(
    cluster: Cluster, hub: PhoneHubServer, page_token: str
) -> None:
    web_1, web_2 = cluster.add("web-1", role="web"), cluster.add("web-2", role="web")
    worker_1 = cluster.add("worker-1", role="worker", **CAPACITY)
    worker_2 = cluster.add("worker-2", role="worker", **CAPACITY)
    await cluster.start_all()
    pages = [PageClient(web_1.url, page_token), PageClient(web_2.url, page_token)]
    ids = [await pages[n % 2].create_instance(f"N{n:02d}") for n in range(20)]
    # Started one after another through both web nodes: each goes to the worker with the most
    # free capacity at that moment.
    for n, instance_id in enumerate(ids):
        async with pages[n % 2].http() as client:
            answer = await client.post(f"/api/instances/{instance_id}/start")
        assert answer.status_code == 200, answer.text
        assert answer.json()["instance"]["status"] in ("starting", "qr")
    assert (await _engines(worker_1), await _engines(worker_2)) == (10, 10), cluster.logs()
    # A web node runs no browser.
    assert web_1.chromium_pids() == web_2.chromium_pids() == set()

    on_worker_2 = next(i for i in ids if running_on(worker_2, i))
    phone = phone_number(42)
    async with pages[0].socket() as ws:  # the page is connected to web-1
        await ws.subscribe(on_worker_2)
        qr = await ws.next_qr(on_worker_2, timeout=30)
        # The same page opened again on web-2 resynchronises: the snapshot and the QR on
        # screen now, asked of the worker that runs it.
        async with pages[1].socket() as again:
            await again.subscribe(on_worker_2)
            assert (await again.next_frame("instance", on_worker_2))["instance"]["status"] == "qr"
            assert (await again.next_qr(on_worker_2, timeout=10))["code"] == qr["code"]
        await hub.scan_when_shown(qr["code"], phone)
        await ws.wait_status(on_worker_2, "connected", timeout=30)
    assert (await pages[1].instance(on_worker_2))["status"] == "connected"
    assert running_on(worker_2, on_worker_2)
    assert len(await hub.wait_linked(phone)) == 1
    assert hub.max_concurrent(phone) == 1

    # A command taken by either web node reaches the owner: stop it through web-2.
    async with pages[1].http() as client:
        stopped = await client.post(f"/api/instances/{on_worker_2}/stop")
    assert stopped.json()["status"] == "stopped"
    assert await _engines(worker_2) == 9


async def test_a_paused_worker_never_runs_a_number_beside_the_one_that_took_it_over(
    cluster: Cluster, hub: PhoneHubServer, page_token: str
) -> None:
    """SIGSTOP a worker's Python process past its lease (its Chromium runs on, as when the
    process stalls or loses the database), then SIGCONT: the other worker takes its numbers
    over from the profile store without a QR, and no device ever has two pages at once."""
    lease = {"LEASE_SECONDS": "6", "PROFILE_SNAPSHOT_SECONDS": "5", **CAPACITY}
    web = cluster.add("web-1", role="web")
    worker_1 = cluster.add("worker-1", role="worker", **lease)
    await cluster.start_all()
    page = PageClient(web.url, page_token)
    phones = {await page.create_instance(f"P{n}"): phone_number(60 + n) for n in range(2)}
    await link_all(page, hub, phones)
    await wait_login_snapshots(cluster.env, list(phones))
    worker_2 = cluster.add("worker-2", role="worker", **lease)
    await worker_2.start()

    worker_1.stop(tree=False)  # the Python process only: its browsers run on
    try:
        for instance_id, phone in phones.items():
            await _wait(lambda i=instance_id: running_on(worker_2, i), 60, cluster)
            await page.wait_status(instance_id, "connected", timeout=60)
            assert [p.page_id for p in await hub.wait_linked(phone, timeout=30)]
        await asyncio.sleep(3)  # the stale pages had every chance to show up
    finally:
        worker_1.cont()
    await asyncio.sleep(8)  # worker-1 wakes, finds its leases gone, and lets go
    for instance_id, phone in phones.items():
        assert hub.max_concurrent(phone) == 1, (phone, hub.pages_of(phone), cluster.logs())
        assert not running_on(worker_1, instance_id)
        assert running_on(worker_2, instance_id)
        assert (await page.instance(instance_id))["status"] == "connected"
    assert hub.waiting_pages() == []  # no QR was shown to bring them back
    assert "lease lost to another worker" in worker_1.log_text()


async def _wait(predicate, timeout: float, cluster: Cluster) -> None:  # type: ignore[no-untyped-def]
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not within {timeout} s: {cluster.logs()}") from None


CHATS = [f"55119777{n:05d}" for n in range(1, 6)]


async def test_a_killed_worker_s_numbers_come_back_on_the_other_within_a_minute(
    cluster: Cluster, hub: PhoneHubServer, fake: FakeGhl, page_token: str
) -> None:
    """kill -9 a worker during a stream of 200 inbound messages over 5 chats: its numbers
    connect again on the other worker within 60 s, without a QR, and every message reaches GHL
    exactly once, in order per chat."""
    # JOB_LEASE_SECONDS: the killed worker's jobs in hand go back to the queue sooner.
    lease = {"LEASE_SECONDS": "9", "PROFILE_SNAPSHOT_SECONDS": "5", "JOB_LEASE_SECONDS": "5"}
    web = cluster.add("web-1", role="web")
    worker_1 = cluster.add("worker-1", role="worker", **lease, **CAPACITY)
    worker_2 = cluster.add("worker-2", role="worker", **lease, **CAPACITY)
    await cluster.start_all()
    page = PageClient(web.url, page_token)
    phones = {await page.create_instance(f"K{n}"): phone_number(80 + n) for n in range(4)}
    first_pages = await link_all(page, hub, phones)
    doomed = [i for i in phones if running_on(worker_1, i)]
    assert len(doomed) == 2, "two numbers on each worker"
    await wait_login_snapshots(cluster.env, doomed)
    target = phones[doomed[0]]

    sent: dict[str, list[str]] = defaultdict(list)

    async def stream() -> None:
        for n in range(40):
            for chat in CHATS:
                body = f"{chat[-2:]}-{n:03d}"
                hub.deliver(target, chat, body, name=f"C{chat[-2:]}")
                sent[chat[-2:]].append(body)
            await asyncio.sleep(0.25)

    streaming = asyncio.create_task(stream())
    await asyncio.sleep(3)  # a part of the stream went through worker-1
    worker_1.kill(tree=True)  # the whole worker at once, its browsers too (a box dying)
    killed = time.monotonic()
    statuses: dict[str, set[str]] = defaultdict(set)

    def back(instance_id: str) -> bool:
        """Running on worker-2, its device linked again in a new page."""
        live = hub.pages_of(phones[instance_id], alive_within=1.0)
        return running_on(worker_2, instance_id) and any(
            p.page_id != first_pages[instance_id] for p in live
        )

    async with asyncio.timeout(90):
        while not all(back(i) for i in doomed):
            for instance_id in doomed:
                statuses[instance_id].add((await page.instance(instance_id))["status"])
            await asyncio.sleep(0.2)
    back_after = time.monotonic() - killed
    await streaming
    assert back_after < 60, (back_after, cluster.logs())
    assert all("qr" not in seen for seen in statuses.values()), statuses
    for instance_id in doomed:
        assert (await page.instance(instance_id))["status"] == "connected"
    assert hub.waiting_pages() == []

    expected = sum(len(bodies) for bodies in sent.values())
    async with asyncio.timeout(120):
        while len(inbound_posts(fake)) < expected:
            await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # nothing more arrives: no duplicate
    assert posted_by(fake, lambda m: m["message"][:2]) == dict(sent)
    alt_ids = [m["altId"] for m in inbound_posts(fake)]
    assert len(alt_ids) == len(set(alt_ids)) == expected == 200
    print(f"failover: numbers connected on worker-2 {back_after:.1f} s after the kill")


async def test_replies_claimed_by_any_worker_go_out_through_the_owner_at_one_pace(
    cluster: Cluster, hub: PhoneHubServer, fake: FakeGhl, page_token: str
) -> None:
    """Replies typed in GHL are jobs any worker may claim; the number's engine runs on one of
    them. Each reply goes out once, in order, through the owner, and the number's pace (a
    minimum gap between two sends) holds across workers: the owner keeps its slots."""
    pace = {"SEND_MIN_GAP_SECONDS": "0.4", "SEND_JITTER_SECONDS": "0", "JOB_CONCURRENCY": "4"}
    web = cluster.add("web-1", role="web")
    workers = [cluster.add(f"worker-{n}", role="worker", **pace, **CAPACITY) for n in (1, 2)]
    await cluster.start_all()
    page = PageClient(web.url, page_token)
    instance_id = await page.create_instance("R")
    phone = phone_number(90)
    page_id = await page.link(instance_id, hub, phone)
    owner = next(w for w in workers if running_on(w, instance_id))
    other = next(w for w in workers if w is not owner)

    customer = "5511977712345"
    hub.deliver(phone, customer, "hello", name="Ana")
    async with asyncio.timeout(30):
        while not (contacts := [c for c in fake.contacts.values() if customer in str(c)]):
            await asyncio.sleep(0.2)
    contact_id = contacts[0]["id"]
    texts = [f"reply-{n:02d}" for n in range(16)]
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as client:
        for text in texts:
            message_id = f"ghl-out-{uuid.uuid4().hex[:10]}"
            fake.messages[message_id] = {"id": message_id, "locationId": LOCATION}
            payload = {
                "contactId": contact_id,
                "locationId": LOCATION,
                "messageId": message_id,
                "type": "SMS",
                "phone": "",
                "message": text,
                "attachments": [],
            }
            body = json.dumps(payload).encode()
            signature = base64.b64encode(SIGNING_KEY.sign(body)).decode()
            answer = await client.post(
                "/webhooks/ghl/outbound",
                content=body,
                headers={"content-type": "application/json", "x-ghl-signature": signature},
            )
            assert answer.status_code == 200, answer.text

    def sent() -> list[dict[str, object]]:
        with hub.hub.lock:
            items = list(hub.hub.pages[page_id].sent.values())
        return sorted((i for i in items if i.get("body") in texts), key=lambda i: i["at"])

    async with asyncio.timeout(90):
        while len(sent()) < len(texts):
            await asyncio.sleep(0.3)
    await asyncio.sleep(2)  # nothing goes twice
    out = sent()
    assert [i["body"] for i in out] == texts  # each once, in order
    gaps = [(b["at"] - a["at"]) / 1000 for a, b in itertools.pairwise(out)]  # type: ignore[operator]
    assert min(gaps) >= 0.4 - 0.02, gaps  # the fixture's clock, in ms
    # Both workers took replies; the other one's went through the owner's engine.
    assert "GHL reply sent to WhatsApp" in other.log_text(), cluster.logs()
    assert "GHL reply sent to WhatsApp" in owner.log_text(), cluster.logs()
