"""The multi-process harness of issue 17 on its own: one `--role all` app process on a real
PostgreSQL and Redis, its engines on the phone hub's fixture page, the fake GHL over HTTP.

What the web/worker tests stand on: the QR the app shows (over the WebSocket) is scanned
through the hub, inbound messages sent through the hub reach the fake GHL exactly once and in
order, the hub counts one page for the device, and a killed node leaves no Chromium behind.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from pathlib import Path

import pytest

from ghl_app.demo.fake_ghl import FakeGhl
from support.cluster import Cluster, Node
from support.cluster_app import PageClient, inbound_posts, link_all, phone_number, posted_by
from support.phone_hub import GAP_SECONDS, PhoneHubServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser]

CHATS = ["5511977700001", "5511977700002"]
PHONE = phone_number(1)


async def test_one_node_on_postgres_and_redis_links_through_the_hub_and_bridges_in_order(
    cluster: Cluster, hub: PhoneHubServer, fake: FakeGhl, page_token: str, tmp_path: Path
) -> None:
    node = cluster.add("all-1")
    await cluster.start_all()
    await _link_and_bridge(node, hub, fake, PageClient(node.url, page_token))
    metrics = await node.metrics()
    assert metrics["ghl_whatsapp_engines_running"] == 1
    chromium = node.chromium_pids()
    assert chromium, "the linked instance runs a Chromium on the node's profiles"
    _check_chromium_is_its_own_process_group(node, chromium)
    await _freeze_and_thaw(node, hub)
    node.kill()
    # Playwright's driver took the browser down with the killed Python process.
    assert node.chromium_pids() == set(), cluster.logs()
    assert cluster.leaked() == set()
    await cluster.close()  # what the fixture does after every test
    assert not any(f"--user-data-dir={tmp_path}" in " ".join(_cmd(pid)) for pid in _pids())


async def test_several_instances_link_at_once_each_as_its_own_device(
    cluster: Cluster, hub: PhoneHubServer, page_token: str
) -> None:
    node = cluster.add("all-1")
    await cluster.start_all()
    page = PageClient(node.url, page_token)
    phones = {await page.create_instance(f"N{n}"): phone_number(10 + n) for n in range(3)}
    pages = await link_all(page, hub, phones)
    assert len(set(pages.values())) == 3
    for instance_id, phone in phones.items():
        assert (await page.instance(instance_id))["status"] == "connected"
        assert [p.page_id for p in await hub.wait_linked(phone)] == [pages[instance_id]]
        assert hub.max_concurrent(phone) == 1
    assert (await node.metrics())["ghl_whatsapp_engines_running"] == 3


async def test_a_node_killed_mid_stream_and_restarted_delivers_everything_once_without_a_qr(
    cluster: Cluster, hub: PhoneHubServer, fake: FakeGhl, page_token: str
) -> None:
    """The hub's side of the kill -9 must-show, on one node: messages sent while the node is
    dead wait for the device, those its page took but never acknowledged come again with the
    same id, the restarted node restores the login and every message reaches GHL once."""
    # The jobs the kill took in hand come back after their lease (60 s by default).
    node = cluster.add("all-1", JOB_LEASE_SECONDS="3")
    await cluster.start_all()
    page = PageClient(node.url, page_token)
    instance_id = await page.create_instance("Main")
    await page.link(instance_id, hub, PHONE)
    chats = ["5511977700011", "5511977700012", "5511977700013"]
    sent: dict[str, list[str]] = defaultdict(list)

    async def stream(rounds: range) -> None:
        for i in rounds:
            for chat in chats:
                body = f"{chat[-2:]}-{i:03d}"
                hub.deliver(PHONE, chat, body)
                sent[chat[-2:]].append(body)
            await asyncio.sleep(0.05)

    await stream(range(0, 10))
    killed_at = time.monotonic()
    node.kill()
    await stream(range(10, 20))
    await node.start()
    await stream(range(20, 30))
    await page.wait_status(instance_id, "connected", timeout=60)
    try:
        async with asyncio.timeout(60):
            while len(inbound_posts(fake)) < 90 or hub.undelivered(PHONE):
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"{len(inbound_posts(fake))}/90 posts\n{node.log_tail()}") from None
    await asyncio.sleep(1.0)  # a duplicate would come now
    assert posted_by(fake, lambda m: m["message"][:2]) == dict(sent)
    assert hub.qr_pages_since(killed_at) == []  # restored from the profile: no QR
    assert len(hub.pages_of(PHONE)) == 2
    assert hub.max_concurrent(PHONE) == 1


async def _link_and_bridge(
    node: Node, hub: PhoneHubServer, fake: FakeGhl, page: PageClient
) -> None:
    instance_id = await page.create_instance("Main")
    page_id = await page.link(instance_id, hub, PHONE)
    assert [p.page_id for p in await hub.wait_linked(PHONE)] == [page_id]

    sent: dict[str, list[str]] = defaultdict(list)
    for i in range(10):
        for chat in CHATS:
            body = f"{chat[-2:]}-{i:02d}"
            hub.deliver(PHONE, chat, body, name=f"Customer {chat[-2:]}")
            sent[chat[-2:]].append(body)
    try:
        async with asyncio.timeout(45):
            while len(inbound_posts(fake)) < 20:
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"{len(inbound_posts(fake))}/20 posts\n{node.log_tail()}") from None
    await asyncio.sleep(1.0)  # a duplicate would come now
    assert posted_by(fake, lambda m: m["message"][:2]) == dict(sent)
    alt_ids = [m["altId"] for m in inbound_posts(fake)]
    assert len(alt_ids) == len(set(alt_ids)) == 20
    assert (await page.instance(instance_id))["status"] == "connected"
    assert hub.undelivered(PHONE) == 0
    assert len(hub.pages_of(PHONE)) == 1
    assert hub.max_concurrent(PHONE) == 1
    assert hub.overlaps(PHONE) == []


async def _freeze_and_thaw(node: Node, hub: PhoneHubServer) -> None:
    """`stop` freezes the node's Chromium too: its page stops reporting, and after `cont` the
    hub records it alive again from its next report (a second interval, still one page)."""
    node.stop()
    try:
        await asyncio.sleep(GAP_SECONDS + 1.5)
        assert hub.pages_of(PHONE, alive_within=GAP_SECONDS) == []
    finally:
        node.cont()
    await hub.wait_linked(PHONE)
    [page] = hub.pages_of(PHONE)
    assert len(page.intervals) == 2
    assert hub.max_concurrent(PHONE) == 1


def _check_chromium_is_its_own_process_group(node: Node, chromium: set[int]) -> None:
    """What cluster.py's doc says: Playwright launches Chromium detached, in a process group
    (and session) of its own, not the node's."""
    assert node.pid is not None
    node_group = os.getpgid(node.pid)
    browser = min(chromium)  # the browser process starts before its children
    assert os.getpgid(browser) != node_group
    assert os.getpgid(browser) == browser


def _pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def _cmd(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
