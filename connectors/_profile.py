"""The Chromium profile folder of one instance: stale-lock recovery and wiping."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

from connectors import _processes
from connectors.base import EngineError

log = logging.getLogger(__name__)

_SINGLETON_FILES = ("SingletonLock", "SingletonSocket", "SingletonCookie")


def _lock_owner(lock: Path) -> int | None:
    """The pid in a SingletonLock symlink (`<hostname>-<pid>`), if readable."""
    try:
        target = os.readlink(lock)
    except OSError:
        return None
    _, _, pid = target.rpartition("-")
    return int(pid) if pid.isdigit() else None


def clear_stale_lock(profile_dir: Path) -> bool:
    """Remove Chromium's Singleton* files when the process they name is gone.

    After a crash or a SIGKILL Chromium leaves them behind and then refuses the profile. A lock
    held by a live Chromium is left alone and reported as `profile_in_use`.
    Returns True when a stale lock was removed.
    """
    lock = profile_dir / "SingletonLock"
    if not lock.is_symlink() and not lock.exists():
        return False
    owner = _lock_owner(lock)
    if owner is not None and _processes.is_alive(owner):
        command = " ".join(_processes.cmdline(owner))
        if "chrom" in command:
            raise EngineError("profile_in_use", f"profile {profile_dir} is used by pid {owner}")
    for name in _SINGLETON_FILES:
        with contextlib.suppress(FileNotFoundError):
            (profile_dir / name).unlink()
    log.info("cleared stale chromium lock", extra={"profile": str(profile_dir), "pid": owner})
    return True


def wipe(profile_dir: Path) -> None:
    shutil.rmtree(profile_dir, ignore_errors=True)


# What a login is made of in a Chromium profile: WhatsApp Web keeps its keys and session in
# IndexedDB and its session markers in Local Storage (docs/whatsapp-web.md); everything else in
# the folder (caches, GPU and code caches, history) is rebuilt by the browser. A snapshot of
# these restores the login elsewhere without a QR (issue 17; whatsapp-web.js's RemoteAuth keeps
# the same two, minus caches).
LOGIN_STATE_PARTS = ("Default/IndexedDB", "Default/Local Storage")


def has_login_state(profile_dir: Path) -> bool:
    return any((profile_dir / part).is_dir() for part in LOGIN_STATE_PARTS)
