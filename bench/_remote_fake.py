"""The fake GHL (ghl_app/demo/fake_ghl.py) in a process of its own, for the bridge benchmark.

Run in the benchmark's own event loop, the fake's request handling (uvicorn, Starlette, JSON)
was counted as our CPU. Here it has its own interpreter, so the benchmark process measures only
the bridge. Arrival times come from `time.perf_counter()`, which on Linux is CLOCK_MONOTONIC:
one clock for both processes, so latencies can be taken across them.

Control routes under `/_bench/` (not GHL's): issue a token for a location, read the inbound
arrivals and the call log from a cursor.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _serve(rate_limit: tuple[int, float], latency_s: float) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    import ghl_app.demo.fake_ghl as fake_ghl_module
    from ghl_app.demo.fake_ghl import FakeGhl, Grant, RecordedCall, run_fake_ghl

    class BenchFakeGhl(FakeGhl):
        def __init__(self, **options: Any) -> None:
            self.call_log: list[tuple[float, str, int, str | None]] = []
            self.received: list[tuple[str, float]] = []
            super().__init__(**options)

        def _routes(self) -> list[Route]:
            return [
                *super()._routes(),
                Route("/_bench/tokens", self._bench_tokens, methods=["POST"]),
                Route("/_bench/received", self._bench_received, methods=["GET"]),
                Route("/_bench/calls", self._bench_calls, methods=["GET"]),
            ]

        async def _record(self, request: Request) -> RecordedCall:
            call = await super()._record(request)
            self.calls.clear()  # the benchmark keeps its own compact log: no growth
            return call

        async def _inbound_message(self, request: Request) -> Response:
            now = time.perf_counter()
            response = await super()._inbound_message(request)
            if response.status_code == 200:
                body = json.loads(bytes(response.body))
                self.received.append((str(self.messages[body["messageId"]].get("altId")), now))
                self.messages.clear()
            return response

        async def _guard(
            self, request: Request, user_type: str = "Location"
        ) -> tuple[RecordedCall, Grant | None, Response | None]:
            now = time.perf_counter()
            if latency_s:
                await asyncio.sleep(latency_s)  # GHL's round trip, as seen from Render
            call, grant, failed = await super()._guard(request, user_type)
            status = failed.status_code if failed is not None else 200
            self.call_log.append((now, call.path, status, call.resource))
            return call, grant, failed

        async def _bench_tokens(self, request: Request) -> Response:
            body = await request.json()
            grant = Grant("Location", body["company_id"], body["location_id"])
            return JSONResponse(self.issue_tokens(grant))

        async def _bench_received(self, request: Request) -> Response:
            since = int(request.query_params.get("since", "0"))
            return JSONResponse(self.received[since:])

        async def _bench_calls(self, request: Request) -> Response:
            return JSONResponse(self.call_log)

    fake_ghl_module.FakeGhl = BenchFakeGhl  # type: ignore[misc]

    async def main() -> None:
        async with run_fake_ghl(rate_limit=rate_limit) as fake:
            print(fake.url, flush=True)
            await asyncio.to_thread(sys.stdin.read)  # until the benchmark closes our stdin

    asyncio.run(main())


class RemoteFake:
    """Starts the fake in a child process; `url`, token issue, arrivals and call log."""

    def __init__(self, rate_limit: tuple[int, float], latency_s: float = 0.0) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__, str(rate_limit[0]), str(rate_limit[1]), str(latency_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError("the fake GHL process did not start")
        self._http = httpx.AsyncClient(base_url=self.url, timeout=30)
        self.received: dict[str, float] = {}  # altId (the WhatsApp id) -> arrival
        self._cursor = 0

    def issue_tokens(self, grant: Any) -> dict[str, Any]:
        """What `seed_location` calls on an in-process fake (it is called once per location)."""
        answer = httpx.post(
            f"{self.url}/_bench/tokens",
            json={"company_id": grant.company_id, "location_id": grant.location_id},
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    async def poll_received(self) -> None:
        answer = await self._http.get("/_bench/received", params={"since": self._cursor})
        rows = answer.json()
        self._cursor += len(rows)
        for alt_id, at in rows:
            if alt_id in self.received:
                raise AssertionError(f"{alt_id} reached GHL twice")
            self.received[alt_id] = at

    async def call_log(self) -> list[tuple[float, str, int, str | None]]:
        answer = await self._http.get("/_bench/calls")
        return [tuple(row) for row in answer.json()]  # type: ignore[misc]

    async def aclose(self) -> None:
        await self._http.aclose()
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


if __name__ == "__main__":
    _serve((int(sys.argv[1]), float(sys.argv[2])), float(sys.argv[3]))
