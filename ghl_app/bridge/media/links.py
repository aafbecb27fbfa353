"""Files GHL will not take (a type outside its upload list, or over its size limit), kept by us
for a retention period and reached through a signed link in the message text.

A link is `/media/{location_id}/{file_id}/{filename}?token={expires}.{signature}`; the signature
(HMAC-SHA256, keyed from APP_SECRET) covers the location, the file and the expiry, so a token
opens one file of one location until the file is deleted. On disk a file is
`$DATA_DIR/media/{location_id}/{file_id}/` with `data` and `meta.json` (written last: a folder
without it is an unfinished write). The file id is derived from the stored message, so a retried
job keeps the same file and the same link.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from ghl_app.errors import AppError

log = logging.getLogger(__name__)

CLEANUP_INTERVAL_S = 3600.0
# The media folder shares the disk with the SQLite file and the browser profiles (Render: one
# 5 GB disk): a file that would leave less than this free is not kept.
MIN_FREE_BYTES = 512 * 1024 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")
# Types a browser may show in the page; anything else (HTML, SVG, scripts) only downloads.
_INLINE_PREFIXES = ("image/png", "image/jpeg", "image/gif", "image/webp", "audio/", "video/")
_INLINE_TYPES = ("application/pdf", "text/plain")


class DiskFull(Exception):
    """Keeping the file would leave the data disk short of `MIN_FREE_BYTES`."""


@dataclass(frozen=True)
class LinkedFile:
    location_id: str
    file_id: str
    filename: str
    mimetype: str
    size: int
    expires_at: int  # unix seconds

    @property
    def inline(self) -> bool:
        return self.mimetype.startswith(_INLINE_PREFIXES) or self.mimetype in _INLINE_TYPES


def safe_filename(name: str) -> str:
    cleaned = _UNSAFE_NAME.sub("_", name).strip(" .") or "file"
    return cleaned[-120:]


class MediaLinks:
    def __init__(
        self,
        root: Path,
        *,
        public_url: str,
        app_secret: str,
        retention: timedelta,
        min_free_bytes: int = MIN_FREE_BYTES,
    ) -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")
        self.retention = retention
        self.min_free_bytes = min_free_bytes
        self._key = hashlib.sha256(b"media-link:" + app_secret.encode()).digest()

    # -- keeping -------------------------------------------------------------------------------

    def file_id(self, location_id: str, key: str) -> str:
        digest = hmac.new(self._key, f"id:{location_id}:{key}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def keep(
        self, location_id: str, key: str, *, data: bytes, mimetype: str, filename: str
    ) -> LinkedFile:
        """Store `data` for `location_id` under `key` (the same key, the same file and link)."""
        if not _SAFE_ID.match(location_id):
            raise ValueError(f"location id {location_id!r} cannot name a folder")
        linked = LinkedFile(
            location_id=location_id,
            file_id=self.file_id(location_id, key),
            filename=safe_filename(filename),
            mimetype=mimetype,
            size=len(data),
            expires_at=int(time.time() + self.retention.total_seconds()),
        )
        return await asyncio.to_thread(self._write, linked, data)

    def _write(self, linked: LinkedFile, data: bytes) -> LinkedFile:
        folder = self.root / linked.location_id / linked.file_id
        meta = folder / "meta.json"
        if meta.exists():
            return self._read_meta(meta)  # a retried job: the link it already handed out
        self.root.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(self.root).free - len(data) < self.min_free_bytes:
            raise DiskFull(f"keeping {len(data)} bytes would leave the data disk nearly full")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data.tmp").write_bytes(data)
        (folder / "data.tmp").replace(folder / "data")
        (folder / "meta.tmp").write_text(json.dumps(asdict(linked)))
        (folder / "meta.tmp").replace(meta)
        return linked

    @staticmethod
    def _read_meta(meta: Path) -> LinkedFile:
        return LinkedFile(**json.loads(meta.read_text()))

    # -- links ---------------------------------------------------------------------------------

    def _signature(self, location_id: str, file_id: str, expires_at: int) -> str:
        message = f"link:{location_id}:{file_id}:{expires_at}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def url(self, linked: LinkedFile) -> str:
        signature = self._signature(linked.location_id, linked.file_id, linked.expires_at)
        token = f"{linked.expires_at}.{signature}"
        return (
            f"{self.public_url}/media/{linked.location_id}/{linked.file_id}/"
            f"{quote(linked.filename, safe='')}?token={token}"
        )

    def open(self, location_id: str, file_id: str, token: str) -> tuple[LinkedFile, Path]:
        """The file a link names, or AppError: 403 without a valid token for this location and
        file, 404 when the file is gone (expired, cleaned up, never existed)."""
        expires_raw, _, signature = token.partition(".")
        if not (
            _SAFE_ID.match(location_id)
            and _SAFE_ID.match(file_id)
            and expires_raw.isascii()
            and expires_raw.isdigit()
        ):
            raise AppError("invalid_media_token", "This link is not valid.", 403)
        expected = self._signature(location_id, file_id, int(expires_raw))
        if not hmac.compare_digest(signature, expected):
            raise AppError("invalid_media_token", "This link is not valid.", 403)
        folder = self.root / location_id / file_id
        try:
            linked = self._read_meta(folder / "meta.json")
        except (OSError, ValueError, TypeError):
            raise AppError("not_found", "This file is no longer available.", 404) from None
        if linked.location_id != location_id or linked.expires_at <= time.time():
            raise AppError("not_found", "This file is no longer available.", 404)
        return linked, folder / "data"

    # -- retention -----------------------------------------------------------------------------

    async def cleanup(self, now: datetime | None = None) -> int:
        """Delete files past their retention; returns how many."""
        moment = (now or datetime.now(UTC)).timestamp()
        return await asyncio.to_thread(self._cleanup, moment)

    def _cleanup(self, moment: float) -> int:
        removed = 0
        if not self.root.is_dir():
            return 0
        for location in self.root.iterdir():
            for folder in location.iterdir() if location.is_dir() else ():
                if self._expired(folder, moment):
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
                    log.info(
                        "linked media file deleted after retention",
                        extra={"location_id": location.name, "file_id": folder.name},
                    )
        return removed

    def _expired(self, folder: Path, moment: float) -> bool:
        try:
            return self._read_meta(folder / "meta.json").expires_at <= moment
        except (OSError, ValueError, TypeError):
            # An unfinished write (crash before meta.json): gone once it is a day old.
            try:
                return folder.stat().st_mtime + 86400 <= moment
            except OSError:
                return False

    async def run_retention(self, interval_s: float = CLEANUP_INTERVAL_S) -> None:
        """The supervised loop: a sweep at start, then one every `interval_s`."""
        while True:
            removed = await self.cleanup()
            if removed:
                log.info("media retention removed %d file(s)", removed)
            await asyncio.sleep(interval_s)
