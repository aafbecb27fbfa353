"""Settings: the contract's names, their defaults, and one clear line for each bad value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ghl_app.errors import ConfigError
from ghl_app.settings import ENV_NAMES, load_settings

# The contract lives in the repository: a fresh clone has nothing beside it.
CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def test_every_contract_setting_is_read() -> None:
    names = set(re.findall(r"^\| `([A-Z_]+)`(?:, `([A-Z_]+)`)?", CONTRACT.read_text(), re.M))
    contract_names = {name for pair in names for name in pair if name}
    assert contract_names, "contract.md lists settings"
    assert contract_names <= set(ENV_NAMES)


def test_defaults_give_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite://{tmp_path / 'app.db'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.public_url == "http://localhost:8000"
    assert settings.oauth_redirect_uri == "http://localhost:8000/oauth/callback"
    assert settings.ghl_api_url == "https://services.leadconnectorhq.com"
    assert settings.max_sessions >= 1
    assert set(settings.missing_ghl) == {
        "GHL_CLIENT_ID",
        "GHL_CLIENT_SECRET",
        "GHL_SHARED_SECRET",
        "GHL_CONVERSATION_PROVIDER_ID",
    }


def test_app_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"DATA_DIR": str(tmp_path)}).app_secret
    second = load_settings({"DATA_DIR": str(tmp_path)}).app_secret
    assert first == second and len(first) >= 32
    assert (tmp_path / "app_secret").stat().st_mode & 0o077 == 0


def test_public_url_defaults_to_render_external_url(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "RENDER_EXTERNAL_URL": "https://wa.onrender.com"}
    assert load_settings(env).public_url == "https://wa.onrender.com"
    env["PUBLIC_URL"] = "https://wa.example.com/"
    assert load_settings(env).public_url == "https://wa.example.com"


def test_postgresql_scheme_is_accepted_as_postgres(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql://u:p@db:5432/app"}
    assert load_settings(env).database_url == "postgres://u:p@db:5432/app"


@pytest.mark.parametrize(
    ("name", "value", "mentions"),
    [
        ("PORT", "eighty", "PORT"),
        ("PORT", "70000", "PORT"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("PUBLIC_URL", "localhost:8000", "PUBLIC_URL"),
        ("MAX_SESSIONS", "0", "MAX_SESSIONS"),
        ("APP_SECRET", "short", "APP_SECRET"),
        ("CHROMIUM_PATH", "/nowhere/chromium", "CHROMIUM_PATH"),
        ("WA_JS", "latest", "WA_JS"),
        ("REDIS_URL", "http://cache:6379", "REDIS_URL"),
    ],
)
def test_malformed_setting_names_itself_in_one_line(
    tmp_path: Path, name: str, value: str, mentions: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"DATA_DIR": str(tmp_path), name: value})
    message = str(raised.value)
    assert mentions in message and "\n" not in message


def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="DATA_DIR"):
        load_settings({"DATA_DIR": str(blocker / "data")})
