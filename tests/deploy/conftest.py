"""What the deploy files' sizing is checked against: the app's own MAX_SESSIONS default."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ghl_app import settings as settings_module

# A sizing row in a deploy file's comments: "#   pro plus   (8 GiB)  16 sessions".
SIZING_ROW = re.compile(
    r"^#\s+(?P<plan>[a-z][a-z ]*?)\s+\((?P<size>\d+) (?P<unit>MiB|GiB)\)"
    r"\s+(?P<sessions>\d+) sessions?\b",
    re.M,
)


def sizing_rows(text: str) -> dict[str, tuple[int, int]]:
    """plan -> (memory in MiB, sessions) for every sizing row of a deploy file."""
    rows = {}
    for row in SIZING_ROW.finditer(text):
        mib = int(row["size"]) * (1024 if row["unit"] == "GiB" else 1)
        rows[row["plan"]] = (mib, int(row["sessions"]))
    return rows


def memory_mib(limit: str) -> int:
    """A compose memory limit ("4g", "512m") in MiB."""
    number, unit = re.fullmatch(r"(\d+)([mg])b?", limit.lower()).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "g" else 1)


@pytest.fixture
def sessions_for(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], int]:
    """MAX_SESSIONS's default on a box with this many MiB, computed by ghl_app/settings.py
    itself from a /proc/meminfo that says so: the deploy files must follow the app's formula,
    not a copy of it."""

    def compute(mib: int) -> int:
        class Meminfo:
            """Only /proc/meminfo exists (no cgroup limit): the box is this big."""

            def __init__(self, path: str) -> None:
                self.path = str(path)

            def read_text(self) -> str:
                if self.path != "/proc/meminfo":
                    raise FileNotFoundError(self.path)
                return f"MemTotal:       {mib * 1024} kB\nMemFree:        1 kB\n"

        with monkeypatch.context() as patch:
            patch.setattr(settings_module, "Path", Meminfo)
            return settings_module._max_sessions_default()

    return compute


@pytest.fixture
def root() -> Path:
    return Path(__file__).resolve().parents[2]
