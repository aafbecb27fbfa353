"""The per-location limiter against the fake GHL's burst limit, and its own bookkeeping."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import seed_location

from ghl_app.demo.fake_ghl import FakeGhl
from ghl_app.ghl.http import BudgetSpent
from ghl_app.ghl.integration import GhlIntegration
from ghl_app.ghl.ratelimit import OverBudget, RateLimiter
from ghl_app.settings import Settings


async def test_300_calls_for_one_location_finish_with_no_429_reaching_the_caller(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    await seed_location(fake_ghl, settings)
    started = time.monotonic()
    results = await asyncio.gather(
        *(ghl.client.find_contact_by_phone("loc-1", f"+55{i}") for i in range(300)),
        return_exceptions=True,
    )
    elapsed = time.monotonic() - started
    assert [r for r in results if isinstance(r, BaseException)] == []
    calls = fake_ghl.calls_to("/contacts/search/duplicate")
    assert sum(c.status == 200 for c in calls) == 300
    assert sum(c.status == 429 for c in calls) < 30  # the limiter, not the retries, did the work
    # 300 calls at 100 a second cannot take less than two windows.
    assert elapsed >= 2.0


async def test_without_the_limiter_the_fake_answers_429_so_the_limit_is_real(
    fake_ghl: FakeGhl, settings: Settings, db: str
) -> None:
    fake_ghl.rate_limit = (100, 10.0)  # a long window: the burst surely lands inside it
    await seed_location(fake_ghl, settings)
    bare = GhlIntegration(
        settings, limiter_enabled=False, rate_limit=(100, 1.0), max_attempts=1, timeout=5.0
    )
    try:
        results = await asyncio.gather(
            *(bare.client.find_contact_by_phone("loc-1", "+1") for _ in range(150)),
            return_exceptions=True,
        )
    finally:
        await bare.aclose()
    statuses = [getattr(r, "status", 200) for r in results]
    assert statuses.count(429) == 50


async def test_300_calls_at_ghl_real_ratio_of_100_per_10_seconds_see_no_429(
    fake_ghl: FakeGhl, settings: Settings, db: str
) -> None:
    fake_ghl.rate_limit = (100, 10.0)
    await seed_location(fake_ghl, settings)
    integration = GhlIntegration(settings)  # production defaults: 100 / 10 s
    try:
        results = await asyncio.gather(
            *(integration.client.find_contact_by_phone("loc-1", "+1") for _ in range(300)),
            return_exceptions=True,
        )
    finally:
        await integration.aclose()
    assert [r for r in results if isinstance(r, BaseException)] == []
    # Arrival jitter (a loaded machine) may cost a 429 now and then, absorbed by the retry;
    # without the limiter about two thirds of such a burst would be refused.
    assert sum(c.status == 429 for c in fake_ghl.calls) < 30


async def test_429_from_ghl_pauses_the_location_and_the_call_is_retried() -> None:
    limiter = RateLimiter(100, 1.0)
    await limiter.acquire("loc")
    limiter.pause("loc", 0.2)
    started = time.monotonic()
    await limiter.acquire("loc")
    assert time.monotonic() - started >= 0.19


async def test_remaining_header_lower_than_ours_tightens_the_window() -> None:
    limiter = RateLimiter(10, 0.5)
    await limiter.acquire("loc")
    limiter.observe("loc", remaining=0, limit=10)  # another process used the rest
    started = time.monotonic()
    await limiter.acquire("loc")
    assert time.monotonic() - started >= 0.45


async def test_idle_locations_are_forgotten() -> None:
    limiter = RateLimiter(5, 0.05)
    for i in range(20):
        await limiter.acquire(f"loc-{i}")
    await asyncio.sleep(0.1)
    await limiter.acquire("loc-last")
    assert limiter.tracked_keys() <= 1


async def test_a_wait_longer_than_the_caller_allows_raises_over_budget_and_counts_nothing() -> None:
    limiter = RateLimiter(2, 5.0)
    await limiter.acquire("loc", max_wait=1.0)
    await limiter.acquire("loc", max_wait=1.0)
    started = time.monotonic()
    with pytest.raises(OverBudget) as raised:
        await limiter.acquire("loc", max_wait=1.0)
    assert time.monotonic() - started < 0.5  # refused at once, not after sleeping
    assert 4.0 < raised.value.wait_s <= 5.0 * 1.03 + 0.01  # the window, padded 3 %
    await limiter.acquire("other", max_wait=1.0)  # another location's budget is untouched


async def test_a_client_call_over_budget_raises_budget_spent_without_calling_ghl(
    fake_ghl: FakeGhl, settings: Settings, db: str
) -> None:
    await seed_location(fake_ghl, settings)
    ghl = GhlIntegration(settings, rate_limit=(3, 5.0), budget_wait_s=0.5)
    try:
        for n in range(3):
            await ghl.client.find_contact_by_phone("loc-1", f"+5511999990{n:03d}")
        with pytest.raises(BudgetSpent) as raised:
            await ghl.client.find_contact_by_phone("loc-1", "+5511999990999")
    finally:
        await ghl.aclose()
    assert raised.value.status == 429 and raised.value.retryable
    assert raised.value.retry_after is not None and raised.value.retry_after > 0.5
    assert len(fake_ghl.calls_to("/contacts/search/duplicate")) == 3
