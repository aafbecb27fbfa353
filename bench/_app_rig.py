"""The app as the page-level benchmarks run it: a temporary DATA_DIR, the fake GHL on loopback
(its SDK-model checks off: the oracle's cost is not the app's), the real app over HTTP with a
connected number on the fixture page in Chromium."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bridge.conftest import (  # noqa: E402
    COMPANY,
    LOCATION,
    PUBLIC_PEM,
    Bridged,
    connect_instance,
    seed_location,
)

from ghl_app.demo.fake_ghl import run_fake_ghl  # noqa: E402
from ghl_app.page_tokens import issue_token  # noqa: E402
from support.app_server import run_app, test_settings  # noqa: E402
from support.wa_fixture import FAST, StaticServer  # noqa: E402
from web.app import create_app  # noqa: E402


@asynccontextmanager
async def connected_app(server: StaticServer, chromium: str) -> AsyncIterator[Bridged]:
    with tempfile.TemporaryDirectory() as data_dir:
        async with run_fake_ghl(rate_limit=(100_000, 10.0)) as fake:
            fake.validate_models = False
            settings = test_settings(
                data_dir,
                GHL_API_URL=fake.url,
                GHL_MARKETPLACE_URL=fake.url,
                WA_WEB_URL=server.url(**FAST),
                CHROMIUM_PATH=chromium,
                GHL_WEBHOOK_ED25519_KEY=PUBLIC_PEM,
            )
            await seed_location(settings, fake)
            token, _ = issue_token(
                settings.app_secret,
                location_id=LOCATION,
                user_id="u",
                company_id=COMPANY,
                role="admin",
            )
            async with run_app(create_app(settings)) as app:
                instance_id = await connect_instance(app, token)
                yield Bridged(app, fake, settings, instance_id, token)
