"""Instance leases on a real PostgreSQL (issue 17, item 3): one owner at a time, an epoch that
grows at every change of hands, a stale owner fenced out, orphans and free capacity as the
takeover reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ghl_app.cluster.leases import WorkerLoad
from ghl_app.cluster.worker import shares

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.mark.postgres
def test_one_owner_at_a_time_and_a_stale_owner_is_fenced(postgres_url: str) -> None:
    result = subprocess.run(
        [sys.executable, str(HERE / "_lease_probe.py"), postgres_url],
        env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(seen["orphans_before"]) == 1  # linked, and no worker holds it
    assert seen["a_takes"] == 1
    assert seen["b_while_a_holds"] is None
    assert seen["owner"] == ["worker-a", 1]
    assert seen["workers"] == [["worker-b", 3], ["worker-a", 1]]  # the most free first
    assert seen["orphans_while_held"] == []
    assert list(seen["a_renews"].values()) == [1]
    # a paused past its lease: b takes over with a new epoch; a's renewal finds nothing, its
    # fence refuses epoch 1, and its late release does not free b's lease.
    assert seen["b_after_expiry"] == 2
    assert seen["a_renews_late"] == {}
    assert seen["a_fenced"] is False
    assert seen["b_holds"] is True
    assert seen["owner_after_stale_release"] == ["worker-b", 2]
    assert seen["owner_after_release"] is None
    assert seen["a_again"] == 3  # the epoch only grows


def test_orphans_go_to_the_workers_with_the_most_room() -> None:
    orphans = [uuid.UUID(int=n) for n in range(7)]
    workers = [WorkerLoad("w-1", 10, 7), WorkerLoad("w-2", 10, 2), WorkerLoad("w-3", 4, 4)]
    assigned = shares(orphans, workers)
    counts = {node: list(assigned.values()).count(node) for node in ("w-1", "w-2", "w-3")}
    # w-2 has 8 free, w-1 has 3: w-2 takes until both have 3 left... then they alternate.
    assert counts == {"w-1": 1, "w-2": 6, "w-3": 0}
    full = [WorkerLoad("w-1", 2, 2)]
    assert shares(orphans, full) == {}
