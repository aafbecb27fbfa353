"""ensure_wajs against a local fake npm registry (no network)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import EngineError
from connectors.wajs import ensure_wajs, find_chromium
from support.wa_fixture import StaticServer

SCRIPT = b"window.WPP = {version: 'test'};\n"
VERSION = "9.9.9"


def _tarball(script: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo("package/dist/wppconnect-wa.js")
        info.size = len(script)
        archive.addfile(info, io.BytesIO(script))
    return out.getvalue()


def _ssri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[StaticServer, Path]]:
    """A static folder shaped like the registry: `/@wppconnect/wa-js/<version>` + tarballs."""
    root = tmp_path / "registry"
    (root / "@wppconnect" / "wa-js").mkdir(parents=True)
    (root / "tarballs").mkdir()
    with StaticServer(root) as server:
        yield server, root


def _publish(
    server: StaticServer, root: Path, version: str, served: bytes, declared: bytes
) -> None:
    name = f"wa-js-{version}.tgz"
    (root / "tarballs" / name).write_bytes(served)
    meta = {
        "name": "@wppconnect/wa-js",
        "version": version,
        "dist": {"tarball": server.url(f"tarballs/{name}"), "integrity": _ssri(declared)},
    }
    (root / "@wppconnect" / "wa-js" / version).write_text(json.dumps(meta))


async def test_downloads_verifies_and_caches_wajs(
    registry: tuple[StaticServer, Path], tmp_path: Path
) -> None:
    server, root = registry
    tarball = _tarball(SCRIPT)
    _publish(server, root, VERSION, tarball, tarball)
    cache = tmp_path / "cache"
    path = await ensure_wajs(VERSION, cache, registry_url=server.base_url)
    assert path == cache / f"wa-js-{VERSION}.js"
    assert path.read_bytes() == SCRIPT
    # Cached: served again even when the registry is gone.
    (root / "@wppconnect" / "wa-js" / VERSION).unlink()
    assert await ensure_wajs(VERSION, cache, registry_url=server.base_url) == path


async def test_tampered_tarball_is_refused_and_not_cached(
    registry: tuple[StaticServer, Path], tmp_path: Path
) -> None:
    server, root = registry
    _publish(server, root, VERSION, _tarball(b"evil();"), _tarball(SCRIPT))
    cache = tmp_path / "cache"
    with pytest.raises(EngineError) as info:
        await ensure_wajs(VERSION, cache, registry_url=server.base_url)
    assert info.value.code == "wajs_integrity"
    assert not (cache / f"wa-js-{VERSION}.js").exists()


async def test_a_cached_file_changed_on_disk_is_fetched_again(
    registry: tuple[StaticServer, Path], tmp_path: Path
) -> None:
    server, root = registry
    tarball = _tarball(SCRIPT)
    _publish(server, root, VERSION, tarball, tarball)
    cache = tmp_path / "cache"
    path = await ensure_wajs(VERSION, cache, registry_url=server.base_url)
    path.write_bytes(b"tampered")
    assert (await ensure_wajs(VERSION, cache, registry_url=server.base_url)).read_bytes() == SCRIPT


async def test_unknown_version_is_a_download_error(
    registry: tuple[StaticServer, Path], tmp_path: Path
) -> None:
    server, _root = registry
    with pytest.raises(EngineError) as info:
        await ensure_wajs("0.0.0", tmp_path / "cache", registry_url=server.base_url)
    assert info.value.code == "wajs_download"


def test_find_chromium_returns_an_executable_or_none() -> None:
    found = find_chromium()
    assert found is None or Path(found).exists()
