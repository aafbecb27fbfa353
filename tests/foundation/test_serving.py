"""A connection delivers its whole request within the deadline or is closed (issue 14: 200
half-sent requests held their sockets for 90 s and more). Loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ghl_app.serving import DeadlineH11Protocol
from support.app_server import free_port


class _Quick(DeadlineH11Protocol):
    request_timeout_s = 0.5


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = Starlette(routes=[Route("/", _echo, methods=["GET", "POST"])])
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, http=_Quick, timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield port
    server.should_exit = True
    await asyncio.wait_for(task, 30)


async def _closed(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before it closed the connection (fails if it never does)."""
    async with asyncio.timeout(10):
        return await reader.read()


async def test_a_half_sent_head_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert await _closed(reader) == b""
    writer.close()


async def test_a_body_that_stops_arriving_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    assert b"200" not in await _closed(reader)
    writer.close()


async def test_a_whole_request_is_answered_and_the_next_half_one_on_the_same_socket_closed(
    port: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    async with asyncio.timeout(10):
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert await reader.readexactly(1) == b"3"
    await asyncio.sleep(1.0)  # past the deadline: an answered request's socket is not cut
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
    async with asyncio.timeout(10):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert await reader.readexactly(1) == b"2"
    writer.write(b"GET / HTTP/1.1\r\n")
    assert await _closed(reader) == b""
    writer.close()
