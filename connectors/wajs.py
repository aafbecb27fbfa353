"""Getting wa-js (@wppconnect/wa-js) from the npm registry, verified, cached; finding Chromium.

docs/whatsapp-web.md: fetch the pinned version's tarball at install or first start, cache it
under DATA_DIR, never commit it. The tarball is checked against the registry's SSRI integrity.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import httpx

from connectors.base import EngineError

_PACKAGE = "@wppconnect/wa-js"
_DIST_FILE = "package/dist/wppconnect-wa.js"
_SUPPORTED_HASHES = ("sha512", "sha384", "sha256")


def _cached(cache_dir: Path, version: str) -> tuple[Path, Path]:
    script = cache_dir / f"wa-js-{version}.js"
    return script, script.with_suffix(".js.integrity.json")


def _verify_ssri(data: bytes, integrity: str) -> None:
    """Check `data` against an SSRI string (`sha512-<base64> …`): any strong hash may match."""
    entries = [entry.split("?")[0] for entry in integrity.split()]
    checked = False
    for entry in entries:
        algorithm, _, expected = entry.partition("-")
        if algorithm not in _SUPPORTED_HASHES:
            continue
        checked = True
        actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        if actual == expected:
            return
    raise EngineError(
        "wajs_integrity",
        "wa-js tarball does not match the registry integrity"
        if checked
        else f"no supported hash in integrity {integrity!r}",
    )


def _script_digest(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cache_is_valid(script: Path, sidecar: Path) -> bool:
    try:
        record = json.loads(sidecar.read_text())
        return bool(record["script"] == _script_digest(script.read_bytes()))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _extract(tarball: bytes) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            member = archive.getmember(_DIST_FILE)
            handle = archive.extractfile(member)
            if handle is None:
                raise KeyError(_DIST_FILE)
            return handle.read()
    except (tarfile.TarError, KeyError) as exc:
        raise EngineError("wajs_bad_tarball", f"{_DIST_FILE} not found in the tarball") from exc


async def ensure_wajs(
    version: str, cache_dir: Path, registry_url: str = "https://registry.npmjs.org"
) -> Path:
    """The path of wa-js `version`, downloaded and verified on first use."""
    script, sidecar = _cached(cache_dir, version)
    if await asyncio.to_thread(_cache_is_valid, script, sidecar):
        return script
    tarball, integrity = await fetch_tarball(version, registry_url)
    data = _extract(tarball)
    await asyncio.to_thread(_store, script, sidecar, data, version, integrity)
    return script


async def fetch_tarball(version: str, registry_url: str) -> tuple[bytes, str]:
    """The package tarball of wa-js `version`, checked against the registry's integrity."""
    registry = registry_url.rstrip("/")
    async with httpx.AsyncClient(timeout=60.0, follow_redirects=True) as client:
        try:
            meta = await client.get(f"{registry}/{_PACKAGE}/{version}")
            meta.raise_for_status()
            dist = meta.json()["dist"]
            tarball_url, integrity = str(dist["tarball"]), str(dist["integrity"])
            response = await client.get(tarball_url)
            response.raise_for_status()
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise EngineError("wajs_download", f"cannot fetch {_PACKAGE}@{version}: {exc}") from exc
    tarball = response.content
    _verify_ssri(tarball, integrity)
    return tarball, integrity


def _store(script: Path, sidecar: Path, data: bytes, version: str, integrity: str) -> None:
    script.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(script, data)
    record = {"version": version, "tarball": integrity, "script": _script_digest(data)}
    _write_atomic(sidecar, json.dumps(record).encode())


_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """A Chromium to launch: system packages first, then Playwright's own download cache."""
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH", Path.home() / ".cache/ms-playwright"))
    for candidate in sorted(cache.glob("chromium-*/chrome-linux*/chrome"), reverse=True):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None
