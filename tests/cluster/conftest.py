"""Fixtures of the multi-process tests (issue 17): the phone hub, the fake GHL, the nodes' shared
settings on a real PostgreSQL and Redis, an installed location and the cluster itself.

Teardown runs in reverse: the cluster's nodes and their Chromium first, then the fake GHL and the
hub, whatever the test did.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ghl_app.demo.fake_ghl import FakeGhl, run_fake_ghl
from support.cluster import Cluster, app_cluster
from support.cluster_app import cluster_env, seed_cluster_location
from support.phone_hub import PhoneHubServer, phone_hub


@pytest.fixture
def hub() -> Iterator[PhoneHubServer]:
    with phone_hub() as server:
        yield server


@pytest.fixture
async def fake() -> AsyncIterator[FakeGhl]:
    async with run_fake_ghl(rate_limit=(1000, 10.0)) as server:
        yield server


@pytest.fixture
def shared_env(
    fake: FakeGhl,
    hub: PhoneHubServer,
    postgres_url: str,
    redis_url: str,
    chromium_path: str,
    tmp_path: Path,
) -> dict[str, str]:
    return cluster_env(
        fake=fake,
        hub=hub,
        database_url=postgres_url,
        redis_url=redis_url,
        chromium_path=chromium_path,
        root=tmp_path,
    )


@pytest.fixture
async def page_token(shared_env: dict[str, str], fake: FakeGhl, tmp_path: Path) -> str:
    """An admin page token of the installed location (seeded in the shared database)."""
    return await seed_cluster_location(shared_env, fake, tmp_path)


@pytest.fixture
async def cluster(shared_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Cluster]:
    """No node yet: `cluster.add(name, role=..., **env)`, then `await cluster.start_all()`."""
    async with app_cluster(shared_env, tmp_path / "nodes") as nodes:
        yield nodes
