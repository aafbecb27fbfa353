"""`ghl-whatsapp demo`: the real app, the fake GHL and the simulated phone on one loopback port.

    /            the app itself, exactly as `serve` runs it (built from web.app by import string,
                 as the CLI does: ghl_app never imports web)
    /fake-ghl/   the fake GHL's API and marketplace (GHL_API_URL, GHL_MARKETPLACE_URL)
    /demo/       the GHL-like frame, the fake GHL's Conversations view, the simulated phone and
                 the fixture WhatsApp Web page the engines open (WA_WEB_URL)

At start the demo installs its sub-account through the app's real OAuth install (the fake GHL
consents), then prints the URL to open.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from ghl_app import db
from ghl_app.demo.fake_ghl import CLIENT_ID, CLIENT_SECRET, FakeGhl
from ghl_app.demo.ghl_view import DemoAccount, ghl_view_routes
from ghl_app.demo.guard import assert_demo_safe
from ghl_app.demo.paths import STATIC_DIR
from ghl_app.demo.phone import PhoneHub, phone_routes
from ghl_app.settings import Settings, load_settings

log = logging.getLogger("ghl_app.demo")

LOCATION = "demo-location"
COMPANY = "demo-company"
# Settings a user may still choose for the demo; everything else is the demo's own.
PASSTHROUGH = ("CHROMIUM_PATH", "CHROMIUM_ARGS", "LOG_LEVEL", "LOG_FORMAT")


@dataclass
class DemoKeys:
    shared_secret: str
    signing_key: ed25519.Ed25519PrivateKey

    @classmethod
    def generate(cls) -> DemoKeys:
        return cls(os.urandom(16).hex(), ed25519.Ed25519PrivateKey.generate())

    def public_pem(self) -> str:
        return (
            self.signing_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


def demo_environ(
    data_dir: Path, port: int, keys: DemoKeys, outside: dict[str, str]
) -> dict[str, str]:
    """The demo's settings: built from scratch (not from the environment), so a real GHL or
    WhatsApp URL in the user's shell cannot leak in."""
    base = f"http://127.0.0.1:{port}"
    env = {name: outside[name] for name in PASSTHROUGH if outside.get(name)}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite://{data_dir / 'app.db'}",
            "PUBLIC_URL": base,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "GHL_CLIENT_ID": CLIENT_ID,
            "GHL_CLIENT_SECRET": CLIENT_SECRET,
            "GHL_SHARED_SECRET": keys.shared_secret,
            "GHL_CONVERSATION_PROVIDER_ID": "demo-provider",
            "GHL_API_URL": f"{base}/fake-ghl",
            "GHL_MARKETPLACE_URL": f"{base}/fake-ghl",
            "GHL_WEBHOOK_ED25519_KEY": keys.public_pem(),
            # The fixture page answers delivery and read receipts itself (auto_ack).
            "WA_WEB_URL": f"{base}/demo/wa/?auto_ack=1",
            "WA_JS": "none",
            "WA_DEVICE_NAME": "WhatsApp for GoHighLevel (demo)",
            "ATTACHMENT_ALLOWED_HOSTS": f"127.0.0.1:{port}",
            "FRAME_ANCESTORS": f"{base} http://localhost:{port}",
            "MAX_SESSIONS": "4",
        }
    )
    return env


def demo_settings(data_dir: Path, port: int, keys: DemoKeys) -> Settings:
    settings = load_settings(demo_environ(data_dir, port, keys, dict(os.environ)))
    assert_demo_safe(settings)
    return dataclasses.replace(settings, demo=True)


async def _install(base: str, fake: FakeGhl) -> None:
    """The sub-account's install, through the app's real OAuth path: /oauth/install -> the fake
    marketplace's consent -> /oauth/callback -> tokens from the fake's /oauth/token."""
    fake.consent_location(LOCATION, COMPANY)
    async with httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=30) as client:
        page = await client.get("/oauth/install")
    if page.status_code != 200 or 'data-outcome="installed"' not in page.text:
        raise RuntimeError(f"the demo install failed ({page.status_code})")


class _AtRoot:
    """The fake GHL as if it were alone at its server's root: it tells GHL's API versions and
    routes apart by the request path, which must not carry the demo's `/fake-ghl` prefix."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = str(scope["path"]).removeprefix(self.prefix) or "/"
            scope = {**scope, "path": path, "raw_path": path.encode(), "root_path": ""}
        await self.app(scope, receive, send)


def build_demo_app(settings: Settings, keys: DemoKeys, *, announce: bool = True) -> Starlette:
    from uvicorn.importer import import_from_string

    create_app = import_from_string("web.app:create_app")
    app: Starlette = create_app(settings)
    fake = FakeGhl()
    fake.url = f"{settings.public_url}/fake-ghl"
    # The SDK model oracle is a test tool (a dev dependency): off in the demo.
    fake.validate_models = False
    account = DemoAccount(
        location_id=LOCATION,
        company_id=COMPANY,
        shared_secret=keys.shared_secret,
        delivery_url=f"{settings.public_url}/webhooks/ghl/outbound",
        signing_key=keys.signing_key,
    )
    hub = PhoneHub()
    demo_routes = [
        *ghl_view_routes(fake, account),
        *phone_routes(hub),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR)),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_outer: Starlette) -> AsyncIterator[None]:
        async with app.router.lifespan_context(app):
            ready = asyncio.create_task(_announce(settings, fake, announce))
            try:
                yield
            finally:
                ready.cancel()

    outer = Starlette(
        routes=[
            Mount("/fake-ghl", app=_AtRoot(fake.app, "/fake-ghl")),
            Mount("/demo", routes=demo_routes),
            Mount("", app=app),
        ],
        lifespan=lifespan,
    )
    outer.state.fake_ghl = fake
    outer.state.phone = hub
    return outer


async def _announce(settings: Settings, fake: FakeGhl, to_stdout: bool) -> None:
    # Started during the lifespan, before the server listens: the first tries may be refused.
    for attempt in range(50):
        try:
            await _install(settings.public_url, fake)
            break
        except httpx.TransportError:
            await asyncio.sleep(0.1 * (attempt + 1))
        except RuntimeError as exc:
            log.error("demo: the sub-account could not be installed: %s", exc)
            return
    else:
        log.error("demo: the sub-account could not be installed: the server never answered")
        return
    url = f"{settings.public_url}/demo/"
    log.warning("DEMO MODE ready: open %s (location=%s)", url, LOCATION)
    if to_stdout:
        print(f"ghl-whatsapp demo: open {url}", flush=True)


def run_demo(data_dir: Path, port: int) -> int:
    import uvicorn

    keys = DemoKeys.generate()
    settings = demo_settings(data_dir, port, keys)
    asyncio.run(db.apply_migrations(settings.database_url))
    log.warning(
        "DEMO MODE: a fake GHL and a simulated phone on %s, data in %s; nothing reaches a "
        "real GHL or WhatsApp",
        settings.public_url,
        data_dir,
    )
    config = uvicorn.Config(
        build_demo_app(settings, keys),
        host="127.0.0.1",
        port=port,
        log_config=None,
        ws="websockets-sansio",
        # The same request limits as `serve` (cli.py), so the app behaves as in production.
        ws_max_size=64 * 1024,
        h11_max_incomplete_event_size=16 * 1024,
        http="ghl_app.serving:DeadlineH11Protocol",
        lifespan="on",
        timeout_graceful_shutdown=10,
        # The phone and the pages poll; one access line each would bury the events that matter.
        access_log=False,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
