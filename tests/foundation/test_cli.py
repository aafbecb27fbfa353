"""The `ghl-whatsapp` command as an operator meets it: real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.app_server import free_port

CLI = [sys.executable, "-c", "from ghl_app.cli import main; main()"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GHL_", "DATABASE_", "PORT"))}
    env.update({"DATA_DIR": str(tmp_path / "data"), **extra})
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_serve_migrates_then_answers_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve"],
        env=_env(tmp_path, PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body: dict[str, object] = {}
        for _ in range(200):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                body = response.json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert body.get("status") == "ok" and body.get("database") == "ok"
        assert (tmp_path / "data" / "app.db").is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises the signal it caught.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output and "Traceback" not in output


def test_port_in_use_is_one_line_and_nonzero(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(["serve"], _env(tmp_path, PORT=str(port)))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"PORT={port}" in result.stderr and "in use" in result.stderr


def test_unreachable_database_is_one_line_and_nonzero(tmp_path: Path) -> None:
    result = _run(["migrate"], _env(tmp_path, DATABASE_URL="postgres://u:p@127.0.0.1:1/db"))
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    result = _run(["migrate"], _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "app.db").stat().st_size > 0


def test_the_data_folder_is_700_and_its_files_600(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(mode=0o755)
    result = _run(["migrate"], _env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o777 == 0o600 for p in files), [
        (p.name, oct(p.stat().st_mode)) for p in files
    ]


def test_doctor_reports_every_check_and_fails_on_a_broken_chromium(tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    result = _run(["doctor"], _env(tmp_path, CHROMIUM_PATH=str(fake), WA_JS="none"))
    lines = result.stdout.splitlines()
    names = ("python", "data dir", "database", "chromium", "wa-js", "ghl settings", "running app")
    for name in names:
        assert any(f"] {name}:" in line for line in lines), result.stdout
    assert any(line.startswith("[FAIL] chromium:") for line in lines)
    assert any(line.startswith("[warn] ghl settings:") for line in lines)
    assert result.returncode == 1


def test_doctor_passes_with_a_working_chromium(tmp_path: Path, chromium_path: str) -> None:
    result = _run(["doctor"], _env(tmp_path, CHROMIUM_PATH=chromium_path, WA_JS="none"))
    assert "[ok  ] chromium:" in result.stdout, result.stdout
    assert result.returncode == 0, result.stdout


def test_doctor_shows_what_the_running_app_reports_about_whatsapp_web(tmp_path: Path) -> None:
    """The app's /healthz on this machine (here a stand-in on loopback answering as the app
    does, tests/bridge/test_wa_connection_health.py shows the app's own) is read by doctor."""
    import http.server
    import threading

    answer = {
        "status": "ok",
        "whatsapp_web_problems": {"inst-1": ["needs_update: WhatsApp Web asks for an update"]},
        "ghl_daily_budget_low": ["loc-a"],
    }

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = str(server.server_address[1])
        result = _run(["doctor"], _env(tmp_path, WA_JS="none", PORT=port, HOST="127.0.0.1"))
    finally:
        server.shutdown()
        server.server_close()
    line = next(line for line in result.stdout.splitlines() if "] running app:" in line)
    assert line.startswith("[warn]") and "needs_update" in line and "loc-a" in line
