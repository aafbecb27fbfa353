"""`ghl-whatsapp demo` as a user starts it: the installed command in its own process, on a free
loopback port, and a real Chromium to open the URL it prints."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.app_server import free_port

# The installed console script; DEMO_COMMAND points at another install's (e.g. a non-dev
# `pip install .` in a fresh virtualenv, to show the demo stands on a production install).
COMMAND = os.environ.get("DEMO_COMMAND") or str(Path(sys.executable).with_name("ghl-whatsapp"))


@dataclass
class DemoProcess:
    url: str
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]


@pytest.fixture
def demo(tmp_path: Path, chromium_path: str) -> Iterator[DemoProcess]:
    port = free_port()
    data_dir = tmp_path / "demo-data"
    log_path = tmp_path / "demo.log"
    out_path = tmp_path / "demo.out"
    # A real GHL URL in the user's shell must not leak into the demo.
    env = {
        **os.environ,
        "CHROMIUM_PATH": chromium_path,
        "GHL_API_URL": "https://services.leadconnectorhq.com",
        "WA_WEB_URL": "https://web.whatsapp.com",
    }
    with log_path.open("wb") as log, out_path.open("wb") as out:
        proc = subprocess.Popen(
            [COMMAND, "demo", "--port", str(port), "--data-dir", str(data_dir)],
            env=env,
            stdout=out,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 90
        while "open http" not in out_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo did not start: {log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        url = out_path.read_text().split("open ", 1)[1].split()[0]
        yield DemoProcess(url, data_dir, log_path, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
