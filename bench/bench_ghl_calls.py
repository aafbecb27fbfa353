"""GHL calls per inbound message (issue 13, item 7). Run on demand, not in CI:

    .venv/bin/python bench/bench_ghl_calls.py [--chats 20]

The real app over HTTP, the fixture page in Chromium, the fake GHL on loopback (which counts
every call). For `--chats` new chats (Brazilian mobiles, so both spellings of the 9th digit are
searched, and other countries' numbers): the first message of each (a contact new to GHL), then
a second one (a known contact), and a first message from a number GHL already has. Prints the
calls each cost, by GHL path, with the token calls left out (they are per location, not per
message).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _app_rig import connected_app  # noqa: E402
from bridge.conftest import LOCATION  # noqa: E402

from connectors.wajs import find_chromium  # noqa: E402
from ghl_app.demo.fake_ghl import FakeGhl  # noqa: E402
from support.wa_fixture import FIXTURE_DIR, FakeWhatsApp, StaticServer  # noqa: E402


def _posted(fake: FakeGhl) -> int:
    return len([m for m in fake.messages.values() if m.get("altId")])


async def _cost(fake: FakeGhl, phone: FakeWhatsApp, sender: str, body: str) -> list[str]:
    """The GHL calls one message cost, as `METHOD path` (ids folded)."""
    before, posted = len(fake.calls), _posted(fake)
    await phone.deliver(**{"from": sender, "body": body})
    async with asyncio.timeout(60):
        while _posted(fake) <= posted:
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # a status update or a late call would be counted now
    calls = []
    for call in fake.calls[before:]:
        if call.path.startswith("/oauth"):
            continue
        path = "/".join("{id}" if "-0" in part else part for part in call.path.split("/"))
        calls.append(f"{call.method} {path}")
    return calls


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=20)
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium: install Debian's chromium")
    brazil = [f"551198765{n:04d}" for n in range(4300, 4300 + args.chats // 2)]
    others = [f"3491{n:07d}" for n in range(600_0000, 600_0000 + args.chats - len(brazil))]
    with StaticServer(FIXTURE_DIR) as server:
        async with connected_app(server, chromium) as bridged:
            fake, phone = bridged.fake, bridged.phone()
            # A contact GHL already holds (e.g. from a form), new to us.
            fake.contacts["contact-known"] = {
                "id": "contact-known",
                "locationId": LOCATION,
                "phone": "+34916009999",
                "tags": ["lead"],
            }
            results: dict[str, list[list[str]]] = {
                "new contact, Brazil": [],
                "new contact, elsewhere": [],
                "known chat": [],
            }
            for group, numbers in (
                ("new contact, Brazil", brazil),
                ("new contact, elsewhere", others),
            ):
                for number in numbers:
                    results[group].append(await _cost(fake, phone, number, "first"))
                    results["known chat"].append(await _cost(fake, phone, number, "again"))
            in_ghl = await _cost(fake, phone, "34916009999", "hello")
    print(f"GHL calls per inbound message ({args.chats} chats; token calls left out)")
    for group, costs in results.items():
        counts = [len(c) for c in costs]
        paths = Counter(path for cost in costs for path in cost)
        print(
            f"  {group:24} median {statistics.median(counts):.0f}  max {max(counts)}"
            f"  ({', '.join(f'{p} x{n / len(costs):.1f}' for p, n in paths.items())})"
        )
    print(f"  {'in GHL, new to us':24} {len(in_ghl)}  ({', '.join(in_ghl)})")


if __name__ == "__main__":
    asyncio.run(main())
