"""Fixtures for the GHL integration: the fake GHL on real sockets, webhook keys we generate,
settings pointing at both, and the integration wired as the app wires it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ghl_app.crypto import TokenCipher
from ghl_app.demo.fake_ghl import FakeGhl, Grant, run_fake_ghl
from ghl_app.ghl.integration import GhlIntegration
from ghl_app.models import Company, Location
from ghl_app.settings import Settings
from support.app_server import free_port, test_settings


@dataclass(frozen=True)
class WebhookKeys:
    ed25519: ed25519.Ed25519PrivateKey
    rsa: rsa.RSAPrivateKey

    def ed25519_public_pem(self) -> str:
        return (
            self.ed25519.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def rsa_public_pem(self) -> str:
        return (
            self.rsa.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


@pytest.fixture(scope="session")
def webhook_keys() -> WebhookKeys:
    return WebhookKeys(
        ed25519.Ed25519PrivateKey.generate(),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
async def fake_ghl() -> AsyncIterator[FakeGhl]:
    # GHL's ratio (100 requests a window) on a 1 s window, so limit tests run fast.
    async with run_fake_ghl(rate_limit=(100, 1.0), hang_seconds=2.0) as fake:
        yield fake


def ghl_settings(
    data_dir: Path, fake: FakeGhl, keys: WebhookKeys, *, port: int | None = None, **env: str
) -> Settings:
    return test_settings(
        str(data_dir),
        GHL_API_URL=fake.url,
        GHL_MARKETPLACE_URL=fake.url,
        PUBLIC_URL=f"http://127.0.0.1:{port or free_port()}",
        GHL_WEBHOOK_ED25519_KEY=keys.ed25519_public_pem(),
        GHL_WEBHOOK_RSA_KEY=keys.rsa_public_pem(),
        **env,
    )


@pytest.fixture
def settings(data_dir: Path, fake_ghl: FakeGhl, webhook_keys: WebhookKeys) -> Settings:
    """Overrides the root fixture: every test here talks to the fake GHL."""
    return ghl_settings(data_dir, fake_ghl, webhook_keys)


@pytest.fixture
async def ghl(settings: Settings, db: str) -> AsyncIterator[GhlIntegration]:
    integration = GhlIntegration(settings, rate_limit=(100, 1.0), backoff_base=0.05, timeout=1.0)
    try:
        yield integration
    finally:
        await integration.aclose()


async def seed_location(
    fake: FakeGhl,
    settings: Settings,
    location_id: str = "loc-1",
    company_id: str = "co-1",
    *,
    expires_in: float = 86399,
    user_type: str = "Location",
    with_refresh: bool = True,
) -> dict[str, Any]:
    """A stored install whose tokens the fake GHL knows, as after a completed OAuth."""
    cipher = TokenCipher(settings.app_secret)
    body = fake.issue_tokens(Grant("Location", company_id, location_id), expires_in=expires_in)
    if not with_refresh:
        fake.refresh_tokens.pop(body["refresh_token"])
    await Location.create(
        location_id=location_id,
        company_id=company_id,
        access_token_enc=cipher.encrypt(body["access_token"]),
        refresh_token_enc=cipher.encrypt(body["refresh_token"]) if with_refresh else None,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        user_type=user_type,
        installed_at=datetime.now(UTC),
    )
    return body


async def seed_company(
    fake: FakeGhl, settings: Settings, company_id: str, locations: list[str]
) -> dict[str, Any]:
    cipher = TokenCipher(settings.app_secret)
    fake.installed[company_id] = [(loc, loc.upper()) for loc in locations]
    body = fake.issue_tokens(Grant("Company", company_id))
    await Company.create(
        company_id=company_id,
        access_token_enc=cipher.encrypt(body["access_token"]),
        refresh_token_enc=cipher.encrypt(body["refresh_token"]),
        expires_at=datetime.now(UTC) + timedelta(days=1),
        installed_at=datetime.now(UTC),
    )
    return body
