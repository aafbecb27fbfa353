"""A local stand-in for the GHL CRM: a page that embeds `/app` in an iframe, as a GHL custom
menu link does, and answers the page's `REQUEST_USER_DATA` like GHL (ghl-api.md, "SSO").

`payload=None` makes a parent that never answers (an old GHL build, a broken embed).
"""

from __future__ import annotations

import http.server
import json
from typing import Any

from support.wa_fixture import LocalHttpServer

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GHL (test parent)</title>
<style>body{{margin:0;font-family:sans-serif}} header{{height:40px;background:#155eef;color:#fff;
padding:0 12px;display:flex;align-items:center}} iframe{{display:block;width:100%;
height:calc(100vh - 40px);border:0}}</style></head>
<body><header>GoHighLevel (test parent)</header>
<iframe id="ghl-app" title="WhatsApp" src="{src}"></iframe>
<script>
  const PAYLOAD = {payload};
  window.requests = 0;
  window.addEventListener("message", (event) => {{
    if (!event.data || event.data.message !== "REQUEST_USER_DATA") return;
    window.requests += 1;
    if (PAYLOAD === null) return;
    event.source.postMessage({{ message: "REQUEST_USER_DATA_RESPONSE", payload: PAYLOAD }}, "*");
  }});
</script></body></html>
"""


class GhlParent(LocalHttpServer):
    """Serves the parent page on 127.0.0.1 in a thread; set `src` and `payload` per test."""

    def __init__(self) -> None:
        self.src = "about:blank"
        self.payload: str | None = None
        parent = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = _PAGE.format(src=parent.src, payload=json.dumps(parent.payload)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)
        self.url = f"{self.base_url}/"
        self.origin = self.base_url
