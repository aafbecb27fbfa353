"""Outbound pacing per WhatsApp number (issue 16; anti-ban: bursts of sends are the cause users
name most for banned numbers, Baileys #2075): a minimum gap between two sends of a number,
plus a random jitter, and at most `per_minute` sends in any minute. Optionally each text is
preceded by "typing…" (wa-js `markIsComposing`) for a time proportional to its length, capped.

The pacer hands each send a slot. A send whose slot is later than now goes back to the queue
until then (`Deferred`: no attempt counted, its worker free), keeping its slot, so a burst from
GHL (a workflow to 500 contacts) drains at the paced rate in the order the sends were first
tried, and each chat keeps its order (the queue runs a chat's jobs one at a time). The slots
live in this process, which owns the number's engine.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

# A slot this close is waited for in place rather than through the queue.
_WAIT_IN_PLACE_S = 0.25
# A slot whose send never came back (it failed meanwhile) is forgotten after this long.
_FORGET_AFTER_S = 600.0
TYPING_SECONDS_PER_CHAR = 0.05  # ~ a fast typist (1,200 characters a minute)


@dataclass(frozen=True, slots=True)
class Pacing:
    min_gap_s: float
    jitter_s: float
    per_minute: int  # 0 = no cap
    typing: bool = False
    typing_max_s: float = 3.0

    def typing_seconds(self, text: str) -> float:
        if not self.typing or not text:
            return 0.0
        return min(self.typing_max_s, TYPING_SECONDS_PER_CHAR * len(text))


@dataclass(slots=True)
class _NumberSlots:
    next_free: float = 0.0
    recent: deque[float] = field(default_factory=deque)  # the last `per_minute` slots
    held: dict[int, float] = field(default_factory=dict)  # message id -> its slot
    # When the last send of the number actually left: a send that went later than its slot
    # (a job the queue took back late) pushes the next one back, so the gap between two sends
    # as WhatsApp sees them never drops below the minimum.
    last_sent: float = float("-inf")


class Pacer:
    def __init__(self, *, clock: object = time.monotonic, rng: random.Random | None = None):
        self._clock = clock
        self._rng = rng or random.Random()
        self._numbers: dict[uuid.UUID, _NumberSlots] = {}

    def _now(self) -> float:
        now: float = self._clock()  # type: ignore[operator]
        return now

    def wait_for(self, instance_id: uuid.UUID, message_id: int, pacing: Pacing) -> float:
        """Seconds until this send may go (0: now). The first call gives the send its slot;
        later calls for the same message keep it."""
        if pacing.min_gap_s <= 0 and pacing.jitter_s <= 0 and pacing.per_minute <= 0:
            return 0.0
        now = self._now()
        slots = self._numbers.setdefault(instance_id, _NumberSlots())
        slot = slots.held.get(message_id)
        if slot is None:
            self._forget_stale(slots, now)
            slot = max(now, slots.next_free)
            if pacing.per_minute > 0:
                while len(slots.recent) > pacing.per_minute:
                    slots.recent.popleft()
                if len(slots.recent) >= pacing.per_minute:
                    slot = max(slot, slots.recent[-pacing.per_minute] + 60.0)
                slots.recent.append(slot)
            gap = pacing.min_gap_s + self._rng.uniform(0.0, max(0.0, pacing.jitter_s))
            slots.next_free = slot + gap
            slots.held[message_id] = slot
        return max(0.0, slot - now, slots.last_sent + pacing.min_gap_s - now)

    def sent(self, instance_id: uuid.UUID, message_id: int) -> None:
        slots = self._numbers.get(instance_id)
        if slots is not None:
            slots.held.pop(message_id, None)
            slots.last_sent = self._now()

    @staticmethod
    def wait_in_place(seconds: float) -> bool:
        return seconds <= _WAIT_IN_PLACE_S

    @staticmethod
    def _forget_stale(slots: _NumberSlots, now: float) -> None:
        if len(slots.held) < 1024:
            return
        for message_id, slot in list(slots.held.items()):
            if slot < now - _FORGET_AFTER_S:
                del slots.held[message_id]
