"""A throwaway Redis server for the tests that need the real thing.

`TEST_REDIS_URL` points at an existing server; otherwise Debian's `redis-server` (installed by
`scripts/system-deps.sh --test`) runs on a free loopback port, in memory only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.app_server import free_port


@contextmanager
def redis_server() -> Iterator[str]:
    """Yields `redis://127.0.0.1:port/0`."""
    existing = os.environ.get("TEST_REDIS_URL")
    if existing:
        yield existing
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("Redis is not installed: run `bash scripts/system-deps.sh --test`")
    root = Path(tempfile.mkdtemp(prefix="redis-test-"))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("test Redis did not become ready")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
