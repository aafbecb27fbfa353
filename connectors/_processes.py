"""Linux process-tree helpers over /proc, so that `stop` can prove no Chromium is left behind.

WPPConnect's best-known bug is a dozen orphaned Chromium processes per closed session
(docs/whatsapp-web.md); we find the browser by its profile path and kill the whole tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or ')'.
    return raw[raw.rindex(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit()]


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            parents[pid] = int(fields[1])
    return parents


def descendants(roots: Iterable[int]) -> set[int]:
    """The roots (when alive) and every live process below them."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = [pid for pid in roots if pid in parents]
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    return {pid for pid in found if is_alive(pid)}


def _names_profile(args: list[str], needle: str) -> bool:
    # Chromium rewrites its children's argv into one space-joined string, so match inside each
    # element, but whole-word: `/p1` must not match `/p10`.
    return any(arg == needle or f"{needle} " in arg or arg.endswith(f" {needle}") for arg in args)


def pids_using_profile(profile_dir: Path) -> set[int]:
    """Live processes whose command line names this Chromium profile folder."""
    needle = f"--user-data-dir={profile_dir}"
    return {pid for pid in _all_pids() if _names_profile(cmdline(pid), needle) and is_alive(pid)}


def kill(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
