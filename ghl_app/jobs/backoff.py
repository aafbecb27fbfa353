"""Retry delays: capped exponential backoff with full jitter.

Full jitter (a uniform delay between zero and the capped exponential) spreads the retries of
many jobs that failed together, e.g. a burst of 429s, instead of retrying them in lockstep.
"""

from __future__ import annotations

import random


def retry_delay(
    attempts: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the next attempt, `attempts` being how many were made so far.

    Never less than `retry_after_s`: a rate-limited call retried early only earns another 429.
    """
    exponent = min(max(attempts - 1, 0), 32)  # bounded so 2**n stays a small float
    ceiling = min(max_s, base_s * 2.0**exponent)
    delay = (rng or random).uniform(0.0, ceiling)
    if retry_after_s is not None and retry_after_s > delay:
        delay = retry_after_s
    return delay
