"""Portable logins (issue 17, item 4): a linked number's login state is snapshotted, encrypted,
to a profile store, and a process whose disk lost the profile restores it without a QR."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from sessions.helpers import BusRecorder, ManagerMaker, fake_phone, new_instance, wait_status

from ghl_app.models import Instance
from ghl_app.models import InstanceStatus as S
from ghl_app.sessions.profiles import FolderStore, ProfileSnapshots, S3Store, open_store
from ghl_app.settings import Settings
from support.app_server import free_port

PHONE = "5511999999999"
SECRET = "s" * 48


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3-compatible server (from PyPI) on loopback, with a bucket."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3").create_bucket(Bucket="profiles")
    try:
        yield endpoint
    finally:
        server.stop()


async def _link_stop_lose_disk_and_come_back(
    make_manager: ManagerMaker, settings: Settings
) -> Instance:
    first = make_manager(settings)
    instance = await new_instance()
    await first.start(instance.id, location_id=instance.location_id)
    await fake_phone(first, instance.id).scan(PHONE)
    await wait_status(instance.id, S.CONNECTED)
    await first.shutdown()  # a clean stop: the snapshot is taken with the browser closed

    shutil.rmtree(settings.profiles_dir)  # a new disk, or another machine

    second = make_manager(settings)
    recorder = BusRecorder(second, instance.id)
    await second.restore()
    row = await wait_status(instance.id, S.CONNECTED)
    assert row.phone_number == f"+{PHONE}"
    assert "qr" not in recorder.types()
    await recorder.close()
    return instance


@pytest.mark.browser
async def test_a_login_comes_back_from_a_folder_store_without_a_qr(
    make_manager: ManagerMaker, settings: Settings, tmp_path: Path
) -> None:
    store = tmp_path / "shared-volume"
    settings = dataclasses.replace(settings, profile_store=f"file://{store}")
    instance = await _link_stop_lose_disk_and_come_back(make_manager, settings)
    [snapshot] = list(store.rglob("*.snapshot"))
    assert snapshot.parent.name == instance.location_id
    # Sealed: the fixture's login marker (as WhatsApp Web's keys would be) is not readable.
    assert b"fake-wa:linked" not in snapshot.read_bytes()


@pytest.mark.browser
async def test_a_login_comes_back_from_an_s3_bucket_and_a_logout_deletes_it(
    make_manager: ManagerMaker, settings: Settings, s3_endpoint: str
) -> None:
    settings = dataclasses.replace(settings, profile_store="s3://profiles/prod")
    instance = await _link_stop_lose_disk_and_come_back(make_manager, settings)
    s3 = boto3.client("s3")
    key = f"prod/{instance.location_id}/{instance.id}.snapshot"
    assert s3.head_object(Bucket="profiles", Key=key)["ContentLength"] > 0

    manager = make_manager(settings)
    await manager.logout(instance.id, location_id=instance.location_id)
    assert s3.list_objects_v2(Bucket="profiles").get("KeyCount", 0) == 0


def _profile_with_login(root: Path) -> Path:
    profile = root / "profile"
    (profile / "Default" / "Local Storage" / "leveldb").mkdir(parents=True)
    (profile / "Default" / "Local Storage" / "leveldb" / "000003.log").write_bytes(b"login")
    (profile / "Default" / "Cache").mkdir(parents=True)
    (profile / "Default" / "Cache" / "big").write_bytes(b"x" * 1000)
    return profile


async def test_a_snapshot_opens_only_for_its_own_instance_and_app_secret(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "store")
    ours = ProfileSnapshots(store, SECRET, 60)
    instance, other = uuid.uuid4(), uuid.uuid4()
    assert await ours.save("loc-a", instance, _profile_with_login(tmp_path))

    # Copied under another instance's name, it is refused (bound to its location/instance).
    blob = await store.get(f"loc-a/{instance}.snapshot")
    assert blob is not None
    await store.put(f"loc-b/{other}.snapshot", blob)
    assert not await ours.restore("loc-b", other, tmp_path / "elsewhere")
    # Another APP_SECRET cannot open it.
    assert not await ProfileSnapshots(store, "t" * 48, 60).restore(
        "loc-a", instance, tmp_path / "stranger"
    )
    # Its own restore brings the login state back, not the caches.
    assert await ours.restore("loc-a", instance, tmp_path / "restored")
    restored = tmp_path / "restored" / "Default"
    assert (restored / "Local Storage" / "leveldb" / "000003.log").read_bytes() == b"login"
    assert not (restored / "Cache").exists()
    # A profile that already holds a login is left alone.
    assert not await ours.restore("loc-a", instance, tmp_path / "restored")


async def test_a_snapshot_that_would_write_outside_the_profile_is_refused(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "store")
    snapshots = ProfileSnapshots(store, SECRET, 60)
    instance = uuid.uuid4()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        evil = tarfile.TarInfo("../../escaped")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    # Sealed with the right key (as if APP_SECRET leaked): the archive itself is still checked.
    nonce = os.urandom(12)
    sealed = snapshots._aead.encrypt(nonce, buffer.getvalue(), f"loc-a/{instance}".encode())
    await store.put(f"loc-a/{instance}.snapshot", b"GWP1" + nonce + sealed)
    assert not await snapshots.restore("loc-a", instance, tmp_path / "p" / "q")
    assert not (tmp_path / "escaped").exists()


def test_profile_store_urls() -> None:
    assert isinstance(open_store("file:///srv/profiles"), FolderStore)
    s3 = open_store("s3://bucket/some/prefix")
    assert isinstance(s3, S3Store) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
