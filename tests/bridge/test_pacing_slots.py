"""The pacer's slots (bridge/pacing.py) on a controlled clock: the gap, the jitter, the
per-minute cap, a slot kept across retries, numbers independent of each other."""

from __future__ import annotations

import itertools
import random
import uuid

from ghl_app.bridge.pacing import Pacer, Pacing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_slots_keep_the_gap_and_jitter_and_at_most_the_cap_per_minute() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, rng=random.Random(7))
    number = uuid.uuid4()
    pacing = Pacing(min_gap_s=2.0, jitter_s=1.0, per_minute=10)
    slots = [clock.now + pacer.wait_for(number, m, pacing) for m in range(25)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert all(g >= 2.0 for g in gaps) and any(g > 2.0 for g in gaps)
    assert all(g <= 3.0 for g in gaps[:9])  # gap + jitter, until the cap bites
    for i in range(len(slots) - 10):
        assert slots[i + 10] - slots[i] >= 60.0


def test_a_send_keeps_its_slot_when_it_comes_back_and_numbers_are_independent() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, rng=random.Random(1))
    first, second = uuid.uuid4(), uuid.uuid4()
    pacing = Pacing(min_gap_s=5.0, jitter_s=0.0, per_minute=0)
    assert pacer.wait_for(first, 1, pacing) == 0.0
    assert pacer.wait_for(first, 2, pacing) == 5.0
    assert pacer.wait_for(second, 1, pacing) == 0.0  # another number: its own turns
    clock.now += 3.0
    assert pacer.wait_for(first, 2, pacing) == 2.0  # the same slot, 3 s closer
    assert pacer.wait_for(first, 3, pacing) == 7.0


def test_no_pacing_means_no_wait() -> None:
    pacer = Pacer(clock=Clock())
    off = Pacing(min_gap_s=0, jitter_s=0, per_minute=0)
    assert [pacer.wait_for(uuid.uuid4(), m, off) for m in range(3)] == [0.0, 0.0, 0.0]
