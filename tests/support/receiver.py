"""A webhook receiver on 127.0.0.1 that records every POST (headers and raw body) and answers
with the statuses a test queues (then 200)."""

from __future__ import annotations

import http.server
import json
import threading
from collections import deque
from typing import Any

from support.wa_fixture import LocalHttpServer


class Receiver(LocalHttpServer):
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: deque[int] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    status = receiver.answers.popleft() if receiver.answers else 200
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "status": status,
                        }
                    )
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        super().__init__(Handler)

    def events(
        self, event_type: str | None = None, *, ok_only: bool = True
    ) -> list[dict[str, Any]]:
        with self._lock:
            rows = list(self.received)
        found = []
        for row in rows:
            if ok_only and row["status"] != 200:
                continue
            event = json.loads(row["body"])
            if event_type is None or event["type"] == event_type:
                found.append(event)
        return found
