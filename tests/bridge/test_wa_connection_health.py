"""WhatsApp's own connection drives the number's state (issue 12, audit finding 4): OFFLINE,
CONFLICT, TOS_BLOCK and the like make it `disconnected` with a reason while the browser lives,
MAIN makes it `connected` again, and a CONFLICT is taken over. The app over HTTP, the fixture
page in real Chromium, a real SQLite file."""

from __future__ import annotations

from typing import Any

import pytest
from bridge.conftest import Bridged, wait_for


async def _instance(bridged: Bridged) -> dict[str, Any]:
    async with bridged.app.client() as client:
        answer = await client.get(
            f"/api/instances/{bridged.instance_id}",
            headers={"Authorization": f"Bearer {bridged.token}"},
        )
    result: dict[str, Any] = answer.json()
    return result


async def _status_is(bridged: Bridged, status: str) -> bool:
    return (await _instance(bridged))["status"] == status


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("OFFLINE", "offline"), ("TOS_BLOCK", "banned"), ("DEPRECATED_VERSION", "outdated")],
)
async def test_whatsapp_going_down_shows_disconnected_with_its_reason_and_main_brings_it_back(
    bridged: Bridged, mode: str, reason: str
) -> None:
    phone = bridged.phone()
    await phone.stream_mode(mode)
    await wait_for(lambda: _status_is(bridged, "disconnected"), timeout=20)
    assert str((await _instance(bridged))["error"]).startswith(f"{reason}:")
    await phone.stream_mode("MAIN")
    await wait_for(lambda: _status_is(bridged, "connected"), timeout=20)
    assert (await _instance(bridged))["error"] is None


async def test_a_conflict_is_taken_over_and_the_number_stays_ours(bridged: Bridged) -> None:
    phone = bridged.phone()
    await phone.stream_mode("CONFLICT")

    async def taken_over() -> bool:
        return await phone.takeover_calls() == 1

    await wait_for(taken_over, timeout=20)
    await wait_for(lambda: _status_is(bridged, "connected"), timeout=20)
