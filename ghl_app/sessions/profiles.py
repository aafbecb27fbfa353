"""Portable logins: a number's login state snapshotted to a profile store, restored elsewhere.

A worker that takes an instance over, or a process whose disk was replaced (Render's instances
keep no files across deploys unless a disk is attached), restores the latest snapshot before
the browser starts, and the number comes back without a QR. What goes in a snapshot is the
engine's call (`connectors._profile.LOGIN_STATE_PARTS`): IndexedDB and Local Storage, not caches.

When: a first snapshot a while after a link (Chromium writes Local Storage to disk lazily, up
to about a minute after a change, issue 17), then periodically while connected, and on every
clean stop (the browser closed, its files complete). A logout or a deleted instance deletes it.

Snapshots are encrypted (AES-256-GCM, key derived from APP_SECRET) and bound to their
location and instance (associated data), so one cannot be restored as another's, nor read by
whoever holds the bucket.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectors._profile import LOGIN_STATE_PARTS, has_login_state
from ghl_app.crypto import derive_key
from ghl_app.errors import ConfigError

log = logging.getLogger(__name__)

_MAGIC = b"GWP1"
_NONCE = 12
# A first snapshot this long after a link: Local Storage reaches the disk up to ~1 min later.
FIRST_SNAPSHOT_DELAY_S = 90.0


class ProfileStore(Protocol):
    """Where snapshots live: named blobs."""

    async def put(self, name: str, data: bytes) -> None: ...

    async def get(self, name: str) -> bytes | None: ...

    async def delete(self, name: str) -> None: ...


class FolderStore:
    """A folder, e.g. a volume every worker mounts."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        return self.root / name

    async def put(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, name, data)

    def _put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a reader never sees half a snapshot.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)

    async def get(self, name: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self._path(name).read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self._path(name).unlink, True)


class S3Store:
    """Any S3-compatible bucket. Credentials, region and endpoint come from the standard
    `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` and `AWS_ENDPOINT_URL` (for
    MinIO, R2, Spaces...), read by boto3, the reference client."""

    def __init__(self, bucket: str, prefix: str) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = boto3.client("s3")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    async def put(self, name: str, data: bytes) -> None:
        await asyncio.to_thread(
            self._client.put_object, Bucket=self.bucket, Key=self._key(name), Body=data
        )

    async def get(self, name: str) -> bytes | None:
        def read() -> bytes | None:
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=self._key(name))
            except self._client.exceptions.NoSuchKey:
                return None
            body: bytes = answer["Body"].read()
            return body

        return await asyncio.to_thread(read)

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._key(name))


def open_store(url: str) -> ProfileStore:
    """`file:///path` or `s3://bucket/prefix` (the PROFILE_STORE setting)."""
    parsed = urlparse(url)
    if parsed.scheme == "file" and parsed.path.startswith("/"):
        return FolderStore(Path(parsed.path))
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Store(parsed.netloc, parsed.path)
    raise ConfigError(
        f"PROFILE_STORE={url!r} is not supported: use file:///path/to/folder or s3://bucket/prefix"
    )


def _pack(profile_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for part in LOGIN_STATE_PARTS:
            source = profile_dir / part
            if source.is_dir():
                # Chromium's LOCK files are held while it runs; they mean nothing elsewhere.
                tar.add(
                    source, arcname=part, filter=lambda m: None if m.name.endswith("/LOCK") else m
                )
    return buffer.getvalue()


def _unpack(profile_dir: Path, packed: bytes) -> None:
    profile_dir.mkdir(parents=True, exist_ok=True)
    for part in LOGIN_STATE_PARTS:
        shutil.rmtree(profile_dir / part, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
        # "data": no absolute paths, no escaping the folder, no links or devices.
        tar.extractall(profile_dir, filter="data")


class ProfileSnapshots:
    def __init__(self, store: ProfileStore, app_secret: str, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self._aead = AESGCM(derive_key(app_secret, "profile-snapshots"))

    @staticmethod
    def _name(location_id: str, instance_id: uuid.UUID) -> str:
        return f"{location_id}/{instance_id}.snapshot"

    @staticmethod
    def _bound_to(location_id: str, instance_id: uuid.UUID) -> bytes:
        return f"{location_id}/{instance_id}".encode()

    async def save(self, location_id: str, instance_id: uuid.UUID, profile_dir: Path) -> bool:
        """Snapshot the login state now; False when there is none to save or the store failed."""
        extra = {"instance_id": str(instance_id), "location_id": location_id}
        if not has_login_state(profile_dir):
            return False
        try:
            packed = await asyncio.to_thread(_pack, profile_dir)
            nonce = os.urandom(_NONCE)
            sealed = self._aead.encrypt(nonce, packed, self._bound_to(location_id, instance_id))
            await self.store.put(self._name(location_id, instance_id), _MAGIC + nonce + sealed)
        except Exception as exc:  # a snapshot is a copy: failing one never stops the number
            log.warning("profile snapshot failed: %s", exc, extra=extra)
            return False
        log.info("profile snapshot saved (%d bytes)", len(sealed), extra=extra)
        return True

    async def restore(self, location_id: str, instance_id: uuid.UUID, profile_dir: Path) -> bool:
        """Put the latest snapshot's login state in place when the profile has none."""
        extra = {"instance_id": str(instance_id), "location_id": location_id}
        if has_login_state(profile_dir):
            return False
        try:
            blob = await self.store.get(self._name(location_id, instance_id))
        except Exception as exc:
            log.warning("profile snapshot could not be read: %s", exc, extra=extra)
            return False
        if blob is None:
            return False
        if not blob.startswith(_MAGIC):
            log.warning("profile snapshot ignored: not a snapshot of ours", extra=extra)
            return False
        nonce, sealed = blob[len(_MAGIC) : len(_MAGIC) + _NONCE], blob[len(_MAGIC) + _NONCE :]
        try:
            packed = self._aead.decrypt(nonce, sealed, self._bound_to(location_id, instance_id))
        except InvalidTag:
            log.warning(
                "profile snapshot ignored: sealed with another APP_SECRET or for another instance",
                extra=extra,
            )
            return False
        try:
            await asyncio.to_thread(_unpack, profile_dir, packed)
        except (tarfile.TarError, OSError) as exc:
            log.warning("profile snapshot could not be unpacked: %s", exc, extra=extra)
            return False
        log.info("login restored from the profile snapshot", extra=extra)
        return True

    async def forget(self, location_id: str, instance_id: uuid.UUID) -> None:
        """The login is gone (logout, deleted instance): so is its snapshot."""
        try:
            await self.store.delete(self._name(location_id, instance_id))
        except Exception as exc:
            log.warning(
                "profile snapshot could not be deleted: %s",
                exc,
                extra={"instance_id": str(instance_id), "location_id": location_id},
            )

    async def keep(self, location_id: str, instance_id: uuid.UUID, profile_dir: Path) -> None:
        """While connected: a first snapshot after a link, then one per interval."""
        await asyncio.sleep(min(FIRST_SNAPSHOT_DELAY_S, self.interval_s))
        while True:
            await self.save(location_id, instance_id, profile_dir)
            await asyncio.sleep(self.interval_s)
