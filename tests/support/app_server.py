"""Run the real app over real sockets inside a test: uvicorn on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette

from ghl_app.demo.ports import free_port as free_port  # one definition, shared with the fake GHL
from ghl_app.settings import Settings


@dataclass
class RunningApp:
    app: Starlette
    url: str
    server: uvicorn.Server

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :]

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def run_app(app: Starlette, port: int | None = None) -> AsyncIterator[RunningApp]:
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(400):
            if server.started:
                break
            if task.done():
                task.result()
                raise RuntimeError("app server stopped during start-up")
            await asyncio.sleep(0.025)
        else:
            raise RuntimeError("app server did not start")
        yield RunningApp(app=app, url=f"http://127.0.0.1:{port}", server=server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


def test_settings(data_dir: str, **env: str) -> Settings:
    from ghl_app.settings import load_settings

    base = {
        "DATA_DIR": data_dir,
        "APP_SECRET": "test-secret-0123456789abcdef",
        "GHL_CLIENT_ID": "6650f0e1a2b3c4d5e6f70819-lx0abcd",
        "GHL_CLIENT_SECRET": "client-secret",
        "GHL_SHARED_SECRET": "shared-secret",
        "GHL_CONVERSATION_PROVIDER_ID": "provider-1",
        "WA_JS": "none",
        "MAX_SESSIONS": "8",
        # Sends are not paced in tests unless a test sets pacing (issue 16, bridge/pacing.py).
        "SEND_MIN_GAP_SECONDS": "0",
        "SEND_JITTER_SECONDS": "0",
        "SENDS_PER_MINUTE": "0",
    }
    base.update(env)
    return load_settings(base)
