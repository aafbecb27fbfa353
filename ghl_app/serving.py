"""The HTTP server's own limits, where the app cannot see: a connection must deliver its whole
request (head and body) within a deadline.

uvicorn times out only idle keep-alive connections; a client that sends half a request head and
stops holds its socket for ever (issue 14, Low 11: 200 half-sent requests were never let go in
90 s). The clock starts at a request's first byte and stops once h11 has the whole request (or
the connection switches to WebSocket); when it runs out the connection is closed."""

from __future__ import annotations

import asyncio
import logging

import h11
from h11._state import MIGHT_SWITCH_PROTOCOL
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 30.0
_RECEIVED = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, MIGHT_SWITCH_PROTOCOL, h11.SWITCHED_PROTOCOL)


class DeadlineH11Protocol(H11Protocol):
    request_timeout_s = REQUEST_TIMEOUT_S
    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._request_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state in _RECEIVED:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._request_timer = self.loop.call_later(self.request_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _expired(self) -> None:
        self._request_timer = None
        if self.conn.their_state in _RECEIVED or self.transport.is_closing():
            return
        log.info("request not received within %.0f s: connection closed", self.request_timeout_s)
        self.transport.close()
