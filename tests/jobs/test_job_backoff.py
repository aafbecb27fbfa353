"""Retry delays: exponential, capped, fully jittered, never sooner than the server asked."""

from __future__ import annotations

import random

from ghl_app.jobs.backoff import retry_delay


def test_delays_stay_under_the_exponential_ceiling_and_use_its_whole_range() -> None:
    rng = random.Random(3)
    for attempts, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0)]:
        delays = [retry_delay(attempts, base_s=1.0, max_s=300.0, rng=rng) for _ in range(500)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert min(delays) < ceiling * 0.1  # full jitter reaches down to zero
        assert max(delays) > ceiling * 0.9


def test_delays_are_capped_however_many_attempts_failed() -> None:
    rng = random.Random(5)
    delays = [retry_delay(500, base_s=1.0, max_s=300.0, rng=rng) for _ in range(500)]
    assert max(delays) <= 300.0
    assert max(delays) > 250.0


def test_retry_after_sets_the_minimum_delay() -> None:
    rng = random.Random(9)
    delays = [
        retry_delay(1, base_s=1.0, max_s=300.0, retry_after_s=10.0, rng=rng) for _ in range(100)
    ]
    assert min(delays) == 10.0
    # A hint shorter than the backoff does not shorten it.
    assert retry_delay(9, base_s=1.0, max_s=300.0, retry_after_s=0.5, rng=random.Random(1)) > 0.5
