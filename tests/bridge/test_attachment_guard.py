"""Issue 14, finding 1: reply attachments are user content. The address guard is tested as a pure
function on every refused range (no traffic); end to end only loopback targets are used, with a
local listener recording any hit that should never happen."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ghl_app.bridge.media.fetch import (
    AttachmentFetcher,
    AttachmentRefused,
    literal_address,
    refused_reason,
)


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",
        "127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "100.64.0.1",
        "::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
        "::",
    ],
)
def test_refused_ranges(text: str) -> None:
    assert refused_reason(ipaddress.ip_address(text)) is not None


@pytest.mark.parametrize("text", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(text: str) -> None:
    assert refused_reason(ipaddress.ip_address(text)) is None


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("2852039166", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("012.1", "10.0.0.1"),
        ("[::ffff:a9fe:a9fe]", "::ffff:169.254.169.254"),
    ],
)
def test_decimal_octal_and_hex_forms_are_read_as_addresses(spelling: str, address: str) -> None:
    parsed = literal_address(spelling)
    assert parsed == ipaddress.ip_address(address)
    assert refused_reason(parsed) is not None


@dataclass
class Listener:
    """A raw HTTP listener on loopback recording every request line it receives."""

    hits: list[str] = field(default_factory=list)
    port: int = 0
    slow: bool = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode("latin-1").strip()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        self.hits.append(line)
        path = line.split(" ")[1] if " " in line else "/"
        query = parse_qs(urlsplit(path).query)
        try:
            if path.startswith("/to"):
                target = query["u"][0]
                writer.write(
                    f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
            elif path.startswith("/loop"):
                writer.write(
                    b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
            elif path.startswith("/slow"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n")
                while True:  # an endless trickle: one byte a second
                    writer.write(b"x")
                    await writer.drain()
                    await asyncio.sleep(1)
            elif path.startswith("/big"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n")
                for _ in range(64):
                    writer.write(b"x" * 65536)
                    await writer.drain()
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                    b"Connection: close\r\n\r\nsecret"
                )
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def _serve(listener: Listener) -> asyncio.Server:
    server = await asyncio.start_server(listener.handle, "127.0.0.1", 0)
    listener.port = server.sockets[0].getsockname()[1]
    return server


@pytest.fixture
async def victim() -> AsyncIterator[Listener]:
    """Stands for the app itself / a local service: must never be hit."""
    listener = Listener()
    server = await _serve(listener)
    yield listener
    server.close()


@pytest.fixture
async def ghl_files() -> AsyncIterator[Listener]:
    """Stands for GHL's file host: allowed by name:port, serves redirects and slow bodies."""
    listener = Listener()
    server = await _serve(listener)
    yield listener
    server.close()


def _fetcher(http: httpx.AsyncClient, allowed: Listener, **kwargs: float) -> AttachmentFetcher:
    return AttachmentFetcher(
        http,
        allowed_hosts=(f"127.0.0.1:{allowed.port}",),
        max_bytes=1024 * 1024,
        deadline=kwargs.get("deadline", 10.0),
    )


def _targets(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/healthz",
        f"http://localhost:{port}/healthz",
        f"http://[::1]:{port}/healthz",
        f"http://2130706433:{port}/healthz",
        f"http://0177.0.0.1:{port}/healthz",
    ]


async def test_loopback_targets_are_refused_directly_and_through_a_redirect(
    victim: Listener, ghl_files: Listener
) -> None:
    async with httpx.AsyncClient() as http:
        fetcher = _fetcher(http, ghl_files)
        for url in _targets(victim.port):
            with pytest.raises(AttachmentRefused, match=r"loopback|not valid|invalid URL"):
                await fetcher.fetch(url)
            redirect = f"http://127.0.0.1:{ghl_files.port}/to?u={url}"
            with pytest.raises(AttachmentRefused, match=r"loopback|not valid|invalid URL"):
                await fetcher.fetch(redirect)
    assert victim.hits == []
    assert len(ghl_files.hits) == len(_targets(victim.port))  # each redirect once, no retry


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://x/"])
async def test_other_schemes_are_refused(url: str, ghl_files: Listener) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(AttachmentRefused, match="only http and https"):
            await _fetcher(http, ghl_files).fetch(url)


async def test_a_redirect_to_file_is_refused(ghl_files: Listener) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(AttachmentRefused, match="only http and https"):
            await _fetcher(http, ghl_files).fetch(
                f"http://127.0.0.1:{ghl_files.port}/to?u=file:///etc/passwd"
            )


async def test_a_redirect_loop_stops_after_a_few_hops(ghl_files: Listener) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(AttachmentRefused, match="redirected more than"):
            await _fetcher(http, ghl_files).fetch(f"http://127.0.0.1:{ghl_files.port}/loop")
    assert len(ghl_files.hits) == 4


async def test_an_endless_slow_body_ends_at_the_deadline(ghl_files: Listener) -> None:
    async with httpx.AsyncClient() as http:
        fetcher = _fetcher(http, ghl_files, deadline=2.0)
        with pytest.raises(AttachmentRefused, match="within 2 seconds"):
            await asyncio.wait_for(
                fetcher.fetch(f"http://127.0.0.1:{ghl_files.port}/slow"), timeout=30
            )


async def test_a_body_over_the_cap_is_refused(ghl_files: Listener) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(AttachmentRefused, match="larger than"):
            await _fetcher(http, ghl_files).fetch(f"http://127.0.0.1:{ghl_files.port}/big")


async def test_the_allowed_host_is_fetched(ghl_files: Listener) -> None:
    async with httpx.AsyncClient() as http:
        got = await _fetcher(http, ghl_files).fetch(f"http://127.0.0.1:{ghl_files.port}/a.txt")
    assert got.data == b"secret"
    assert got.filename == "a.txt"


async def test_a_thousand_loopback_urls_make_no_request(
    victim: Listener, ghl_files: Listener
) -> None:
    async with httpx.AsyncClient() as http:
        fetcher = _fetcher(http, ghl_files)
        for n in range(1000):
            with pytest.raises(AttachmentRefused):
                await fetcher.fetch(f"http://127.0.0.1:{victim.port}/{n}")
    assert victim.hits == []
