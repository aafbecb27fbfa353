"""What keeps the demo a sandbox: every URL through which the app could reach GHL or WhatsApp
must point at the demo's own loopback server, WhatsApp Web must be the local fixture page (no
wa-js download), and the database must be SQLite inside the demo's own data folder.

Checked on the final settings, after they are built, so a mistake in building them (or a value
slipping in from elsewhere) stops the demo instead of reaching a real service.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from ghl_app.errors import ConfigError
from ghl_app.settings import Settings


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_is_loopback(host_port: str) -> bool:
    return is_loopback_url(f"http://{host_port}")


def assert_demo_safe(settings: Settings) -> None:
    """Raise ConfigError naming the first setting that could reach a real GHL or WhatsApp."""
    urls = {
        "GHL_API_URL": settings.ghl_api_url,
        "GHL_MARKETPLACE_URL": settings.ghl_marketplace_url,
        "WA_WEB_URL": settings.wa_web_url,
        "PUBLIC_URL": settings.public_url,
    }
    for name, url in urls.items():
        if not is_loopback_url(url):
            raise ConfigError(f"demo refuses to start: {name}={url} is not this machine (loopback)")
    if not settings.wa_js_disabled:
        raise ConfigError("demo refuses to start: WA_JS must be none (the simulated phone's page)")
    for host in settings.attachment_allowed_hosts:
        if not _host_is_loopback(host):
            raise ConfigError(f"demo refuses to start: ATTACHMENT_ALLOWED_HOSTS names {host}")
    if not settings.database_url.startswith("sqlite://"):
        raise ConfigError("demo refuses to start: DATABASE_URL must be the demo's own SQLite file")
    db_path = Path(settings.database_url.removeprefix("sqlite://")).resolve()
    if not db_path.is_relative_to(settings.data_dir.resolve()):
        raise ConfigError(f"demo refuses to start: the database {db_path} is outside its data dir")


MARKER = ".ghl-whatsapp-demo"


def claim_demo_dir(data_dir: Path) -> None:
    """Make `data_dir` the demo's, or refuse it: a folder that already holds anything and was
    not made by a demo (the real app's data folder, say) is never used, so the demo cannot
    install its fake sub-account into a real database."""
    marker = data_dir / MARKER
    if data_dir.exists() and any(data_dir.iterdir()) and not marker.exists():
        raise ConfigError(
            f"demo refuses to start: {data_dir} is not empty and not a demo folder "
            "(leave --data-dir out, or give a new or earlier demo folder)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("created by `ghl-whatsapp demo`\n")
