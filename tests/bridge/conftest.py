"""End-to-end bridge fixtures: the real app over HTTP, the fake GHL server, the fake WhatsApp
Web page in real Chromium, a real SQLite file, and one installed location with a connected
number."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from tortoise import Tortoise

from connectors.playwright_engine import PlaywrightEngine
from ghl_app.crypto import TokenCipher
from ghl_app.db import apply_migrations, tortoise_config
from ghl_app.demo.fake_ghl import FakeGhl, Grant, run_fake_ghl
from ghl_app.models import Location
from ghl_app.page_tokens import issue_token
from ghl_app.settings import Settings
from support.app_process import AppProcess
from support.app_server import RunningApp, run_app, test_settings
from support.wa_fixture import FAST, FakeWhatsApp, StaticServer
from web.app import create_app

LOCATION = "loc-bridge"
COMPANY = "co-bridge"
OWN_PHONE = "+5511900000001"
WORKFLOW_TOKEN = "wf-token-0123456789"
METRICS_TOKEN = "metrics-token-0123456789"


async def seed_location(settings: Settings, fake: FakeGhl, location_id: str = LOCATION) -> None:
    """An installed location whose tokens the fake GHL accepts."""
    body = fake.issue_tokens(Grant("Location", COMPANY, location_id))
    cipher = TokenCipher(settings.app_secret)
    await apply_migrations(settings.database_url)
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        await Location.create(
            location_id=location_id,
            company_id=COMPANY,
            access_token_enc=cipher.encrypt(body["access_token"]),
            refresh_token_enc=cipher.encrypt(body["refresh_token"]),
            expires_at=datetime.now(UTC) + timedelta(hours=20),
            scopes=body.get("scope", ""),
            installed_at=datetime.now(UTC),
        )
    finally:
        await Tortoise.close_connections()


# Fixed bytes: this module is imported both as a conftest and by the tests, and both copies
# must sign with the key the app was given.
SIGNING_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC_PEM = (
    SIGNING_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


@dataclass
class Bridged:
    app: RunningApp
    fake: FakeGhl
    settings: Settings
    instance_id: str
    token: str

    async def reply_from_ghl(
        self, contact_id: str, text: str, *, phone: str = "", attachments: list[str] | None = None
    ) -> tuple[str, int]:
        """GHL's provider Delivery URL call for a reply typed in GHL, signed like GHL's."""
        message_id = f"ghl-out-{uuid.uuid4().hex[:10]}"
        # The real GHL holds the message it asks us to deliver; status updates address it.
        self.fake.messages[message_id] = {"id": message_id, "locationId": LOCATION}
        payload = {
            "contactId": contact_id,
            "locationId": LOCATION,
            "messageId": message_id,
            "type": "SMS",
            "phone": phone,
            "message": text,
            "attachments": attachments or [],
        }
        return message_id, await self.signed_post("/webhooks/ghl/outbound", payload)

    async def signed_post(self, path: str, payload: dict[str, Any]) -> int:
        """POST `payload` to one of our webhook routes, signed as GHL signs it; the status."""
        body = json.dumps(payload).encode()
        signature = base64.b64encode(SIGNING_KEY.sign(body)).decode()
        async with self.app.client() as client:
            response = await client.post(
                path,
                content=body,
                headers={"content-type": "application/json", "x-ghl-signature": signature},
            )
        return response.status_code

    @property
    def services(self) -> Any:
        return self.app.app.state.services

    def phone(self, instance_id: str | None = None) -> FakeWhatsApp:
        """The fixture page of an instance (the first connected one by default)."""
        engine = self.services.sessions.engine_for(uuid.UUID(instance_id or self.instance_id))
        assert engine is not None
        return FakeWhatsApp(cast(PlaywrightEngine, engine).page)

    def inbound_calls(self) -> list[dict[str, Any]]:
        return [m for m in self.fake.messages.values() if m.get("altId")]


async def connect_instance(app: RunningApp, token: str, name: str = "Main") -> str:
    headers = {"Authorization": f"Bearer {token}"}
    async with app.client(headers=headers) as client:
        created = await client.post("/api/instances", json={"name": name})
        assert created.status_code == 201, created.text
        instance_id = str(created.json()["id"])
        started = await client.post(f"/api/instances/{instance_id}/start")
        assert started.status_code == 200, started.text
        engine = app.app.state.services.sessions.engine_for(uuid.UUID(instance_id))
        await FakeWhatsApp(cast(PlaywrightEngine, engine).page).scan(OWN_PHONE)
        async with asyncio.timeout(20):
            while True:
                state = (await client.get(f"/api/instances/{instance_id}")).json()
                if state["status"] == "connected":
                    return instance_id
                await asyncio.sleep(0.1)


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 60.0, what: str = ""
) -> None:
    async with asyncio.timeout(timeout):
        while True:
            result = predicate()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(0.1)


@pytest.fixture
def bridge_env(
    data_dir: Path, chromium_path: str, wa_fixture_server: StaticServer
) -> Callable[..., Settings]:
    def make(fake: FakeGhl, **extra: str) -> Settings:
        env = {
            "GHL_API_URL": fake.url,
            "GHL_MARKETPLACE_URL": fake.url,
            # The fake GHL's file host is loopback: allowed by name:port, every other loopback
            # port stays refused (production allows only GHL's own file hosts).
            "ATTACHMENT_ALLOWED_HOSTS": fake.url.split("//", 1)[1],
            # Event receivers in tests listen on loopback, which only a named host may reach.
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "WA_WEB_URL": wa_fixture_server.url(**FAST),
            "CHROMIUM_PATH": chromium_path,
            "GHL_WEBHOOK_ED25519_KEY": PUBLIC_PEM,
            "GHL_WORKFLOW_TOKEN": WORKFLOW_TOKEN,
            "METRICS_TOKEN": METRICS_TOKEN,
            **extra,
        }
        return test_settings(str(data_dir), **env)

    return make


@pytest.fixture
async def bridged(bridge_env: Callable[..., Settings]) -> AsyncIterator[Bridged]:
    async with run_fake_ghl(rate_limit=(1000, 10.0)) as fake:
        settings = bridge_env(fake)
        await seed_location(settings, fake)
        token, _ = issue_token(
            settings.app_secret,
            location_id=LOCATION,
            user_id="u1",
            company_id=COMPANY,
            role="admin",
        )
        async with run_app(create_app(settings)) as app:
            instance_id = await connect_instance(app, token)
            yield Bridged(
                app=app, fake=fake, settings=settings, instance_id=instance_id, token=token
            )


async def process_app(
    fake: FakeGhl,
    *,
    data_dir: Path,
    chromium_path: str,
    wa_web_url: str,
    log_path: Path,
    **extra_env: str,
) -> tuple[AppProcess, Settings, dict[str, str]]:
    """The app as its own process (to be killed) on a seeded location; returns the process, its
    settings and the headers of a page token for that location."""
    env = {
        "DATA_DIR": str(data_dir),
        "APP_SECRET": "test-secret-0123456789abcdef",
        "GHL_CLIENT_ID": "6650f0e1a2b3c4d5e6f70819-lx0abcd",
        "GHL_CLIENT_SECRET": "client-secret",
        "GHL_SHARED_SECRET": "shared-secret",
        "GHL_CONVERSATION_PROVIDER_ID": "provider-1",
        "GHL_API_URL": fake.url,
        "ATTACHMENT_ALLOWED_HOSTS": fake.url.split("//", 1)[1],
        "GHL_WEBHOOK_ED25519_KEY": PUBLIC_PEM,
        "WA_JS": "none",
        "SEND_MIN_GAP_SECONDS": "0",  # unpaced, as in test_settings
        "SEND_JITTER_SECONDS": "0",
        "SENDS_PER_MINUTE": "0",
        "WA_WEB_URL": wa_web_url,
        "CHROMIUM_PATH": chromium_path,
        **extra_env,
    }
    settings = test_settings(str(data_dir), **env)
    await seed_location(settings, fake)
    token, _ = issue_token(
        settings.app_secret, location_id=LOCATION, user_id="u", company_id=COMPANY, role="admin"
    )
    return AppProcess(env, log_path), settings, {"Authorization": f"Bearer {token}"}


async def link_over_devtools(
    client: httpx.AsyncClient, phone: FakeWhatsApp, instance_id: str
) -> None:
    """Scan the QR of a process-hosted instance and wait until the app reports it connected."""
    await phone.scan(OWN_PHONE)
    async with asyncio.timeout(20):
        while (await client.get(f"/api/instances/{instance_id}")).json()["status"] != "connected":
            await asyncio.sleep(0.1)
