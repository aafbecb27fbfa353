"""The durable queue shared by several processes on one PostgreSQL (issue 17, item 6).

Each process is a real `JobQueue` of its own (tests/jobs/_pg_worker.py): claims must never
hand one job to two live workers, a chat's jobs run one at a time in id order whichever process
takes them, and a worker killed with its jobs in hand loses them to the others when its leases
expire.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KEYS, PER_KEY = 12, 25

pytestmark = pytest.mark.postgres


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / "_pg_worker.py"), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _start_all(url: str, logs: list[Path], go: Path) -> list[subprocess.Popen[str]]:
    """One worker process per log, all claiming from the same moment."""
    workers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "_pg_worker.py"), "work", url, str(log), str(go)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for log in logs
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    go.touch()
    return workers


async def _seed_and_start(
    url: str, tmp_path: Path
) -> tuple[list[Path], list[subprocess.Popen[str]]]:
    """The jobs queued, then three workers claiming from the same moment."""
    seeded = await asyncio.to_thread(_run, ["seed", url, str(KEYS), str(PER_KEY)])
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    logs = [tmp_path / f"worker{n}.log" for n in range(3)]
    return logs, await asyncio.to_thread(_start_all, url, logs, tmp_path / "go")


def _runs(logs: list[Path]) -> list[tuple[str, str, int, int, float]]:
    """(event, key, seq, pid, time) for every line every worker wrote, by time."""
    runs = []
    for log in logs:
        for line in log.read_text().splitlines():
            event, key, seq, pid, at = line.split()
            runs.append((event, key, int(seq), int(pid), float(at)))
    return sorted(runs, key=lambda run: run[4])


def _check_order(runs: list[tuple[str, str, int, int, float]], killed: int | None) -> None:
    """Per key: one run at a time, in seq order; a run only repeats when its worker was killed
    with it in hand (at-least-once: the handler ran, `done` was never written)."""
    in_hand: dict[str, tuple[int, int]] = {}
    finished: dict[str, list[int]] = defaultdict(list)
    for event, key, seq, pid, _ in runs:
        if event == "start":
            holder = in_hand.get(key)
            # A start while another run of the key is in hand is only allowed when the holder
            # died mid-run and its lease expired.
            assert holder is None or holder[1] == killed, (key, seq, pid, holder)
            done = finished[key]
            expected = done[-1] + 1 if done else 0
            assert seq == expected or (holder and holder[0] == seq), (key, seq, done)
            in_hand[key] = (seq, pid)
        else:
            assert in_hand.get(key) == (seq, pid), (key, seq, pid, in_hand.get(key))
            del in_hand[key]
            if not finished[key] or finished[key][-1] != seq:
                finished[key].append(seq)
    assert dict(finished) == {f"chat-{k}": list(range(PER_KEY)) for k in range(KEYS)}


async def test_three_workers_share_the_queue_in_order_per_chat(
    postgres_url: str, tmp_path: Path
) -> None:
    logs, workers = await _seed_and_start(postgres_url, tmp_path)
    outputs = [await asyncio.to_thread(w.communicate, timeout=180) for w in workers]
    for worker, (output, _) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-2000:]
    runs = _runs(logs)
    _check_order(runs, killed=None)
    starts = [run for run in runs if run[0] == "start"]
    assert len(starts) == KEYS * PER_KEY  # no job ran twice
    assert len({run[3] for run in starts}) == 3  # every process took a share


async def test_a_killed_workers_jobs_go_to_the_others_after_its_lease(
    postgres_url: str, tmp_path: Path
) -> None:
    logs, workers = await _seed_and_start(postgres_url, tmp_path)
    victim = workers[0]
    # Kill it once it has a job in hand (a start without its end), well into the run.
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        lines = logs[0].read_text().splitlines() if logs[0].exists() else []
        if len(lines) > 20 and lines[-1].startswith("start"):
            victim.send_signal(signal.SIGKILL)
            break
        assert asyncio.get_running_loop().time() < deadline, "worker 0 never took a job"
        await asyncio.sleep(0.005)
    await asyncio.to_thread(victim.communicate, timeout=10)
    for worker in workers[1:]:
        output, _ = await asyncio.to_thread(worker.communicate, timeout=180)
        assert worker.returncode == 0, output[-2000:]
    runs = _runs(logs)
    _check_order(runs, killed=victim.pid)
    orphaned = [run for run in runs if run[3] == victim.pid]
    assert orphaned and orphaned[-1][0] == "start"  # it died holding a job ...
    _, key, seq, _, _ = orphaned[-1]
    # ... which another process ran to its end.
    assert any(r[0] == "end" and r[1:3] == (key, seq) and r[3] != victim.pid for r in runs)
