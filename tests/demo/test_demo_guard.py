"""Demo mode refuses any setting through which the app could reach a real GHL or WhatsApp, and
never takes those settings from the user's environment. Nothing here connects anywhere."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ghl_app.db import apply_migrations
from ghl_app.demo.guard import assert_demo_safe, is_loopback_url
from ghl_app.demo.server import DemoKeys, demo_environ, demo_settings
from ghl_app.errors import ConfigError
from ghl_app.settings import load_settings

PORT = 8123
CLI = [sys.executable, "-c", "from ghl_app.cli import main; main()"]


def _environ(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = demo_environ(data_dir, PORT, DemoKeys.generate(), {})
    env.update(overrides)
    return env


def test_the_demo_settings_point_only_at_its_own_loopback_server(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path, PORT, DemoKeys.generate())
    base = f"http://127.0.0.1:{PORT}"
    assert settings.ghl_api_url == f"{base}/fake-ghl"
    assert settings.ghl_marketplace_url == f"{base}/fake-ghl"
    assert settings.wa_web_url.startswith(f"{base}/demo/wa/")
    assert settings.wa_js_disabled
    assert settings.database_url == f"sqlite://{tmp_path / 'app.db'}"


def test_the_users_environment_cannot_point_the_demo_elsewhere(tmp_path: Path) -> None:
    outside = {
        "GHL_API_URL": "https://services.leadconnectorhq.com",
        "WA_WEB_URL": "https://web.whatsapp.com",
        "DATABASE_URL": "postgres://u:p@db.example.com/app",
        "DATA_DIR": "/var/data",
        "CHROMIUM_PATH": "/usr/bin/chromium",
    }
    env = demo_environ(tmp_path, PORT, DemoKeys.generate(), outside)
    assert env["GHL_API_URL"].startswith("http://127.0.0.1:")
    assert env["WA_WEB_URL"].startswith("http://127.0.0.1:")
    assert env["DATABASE_URL"].startswith(f"sqlite://{tmp_path}")
    assert env["DATA_DIR"] == str(tmp_path)
    assert env["CHROMIUM_PATH"] == "/usr/bin/chromium"  # only harmless settings pass through


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("GHL_API_URL", "https://services.leadconnectorhq.com", "GHL_API_URL"),
        ("GHL_MARKETPLACE_URL", "https://marketplace.gohighlevel.com", "GHL_MARKETPLACE_URL"),
        ("WA_WEB_URL", "https://web.whatsapp.com", "WA_WEB_URL"),
        ("WA_WEB_URL", "http://192.168.1.10:8000/demo/wa/", "WA_WEB_URL"),
        ("PUBLIC_URL", "https://app.example.com", "PUBLIC_URL"),
        ("WA_JS", "4.6.0", "WA_JS"),
        ("ATTACHMENT_ALLOWED_HOSTS", "storage.googleapis.com", "ATTACHMENT_ALLOWED_HOSTS"),
        ("DATABASE_URL", "postgres://u:p@127.0.0.1:5432/app", "DATABASE_URL"),
    ],
)
def test_demo_refuses_a_setting_that_could_reach_a_real_service(
    tmp_path: Path, name: str, value: str, named: str
) -> None:
    settings = load_settings(_environ(tmp_path, **{name: value}))
    with pytest.raises(ConfigError, match=named):
        assert_demo_safe(settings)


def test_demo_refuses_a_database_outside_its_own_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "real" / "app.db"
    settings = load_settings(_environ(tmp_path / "demo", DATABASE_URL=f"sqlite://{elsewhere}"))
    with pytest.raises(ConfigError, match="outside its data dir"):
        assert_demo_safe(settings)


def test_loopback_is_127_0_0_0_8_ipv6_loopback_and_localhost_only() -> None:
    assert is_loopback_url("http://127.0.0.1:8000/x")
    assert is_loopback_url("http://127.8.9.10/")
    assert is_loopback_url("http://[::1]:8000/")
    assert is_loopback_url("http://localhost:8000/")
    for url in ("http://10.0.0.1/", "http://[fe80::1]/", "https://web.whatsapp.com", "http:///x"):
        assert not is_loopback_url(url)


def test_the_cli_refuses_to_start_a_demo_on_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "already in use" in done.stderr


async def test_only_the_demo_shows_the_demo_banner_in_our_page(tmp_path: Path) -> None:
    from support.app_server import run_app
    from web.app import create_app

    demo = demo_settings(tmp_path / "demo", PORT, DemoKeys.generate())
    normal = load_settings(_environ(tmp_path / "normal"))
    for settings, shown in ((demo, True), (normal, False)):
        await apply_migrations(settings.database_url)
        async with run_app(create_app(settings)) as running, running.client() as client:
            page = await client.get("/app", headers={"accept-language": "pt-BR"})
        assert page.status_code == 200
        assert ('class="demo-banner"' in page.text) is shown
        assert ("DEMONSTRAÇÃO: um GoHighLevel falso" in page.text) is shown


def test_the_cli_refuses_a_data_dir_that_is_not_a_demo_folder(tmp_path: Path) -> None:
    real = tmp_path / "data"
    real.mkdir()
    (real / "app.db").write_bytes(b"a real database")
    done = subprocess.run(
        [*CLI, "demo", "--port", str(PORT), "--data-dir", str(real)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "not a demo folder" in done.stderr
    assert (real / "app.db").read_bytes() == b"a real database"
    assert sorted(p.name for p in real.iterdir()) == ["app.db"]


def test_a_new_or_earlier_demo_folder_is_taken(tmp_path: Path) -> None:
    from ghl_app.demo.guard import claim_demo_dir

    fresh = tmp_path / "new"
    claim_demo_dir(fresh)
    (fresh / "app.db").write_bytes(b"")
    claim_demo_dir(fresh)  # the same demo folder again, e.g. to keep its linked number
