"""How our event webhooks are signed, and how a receiver checks them.

Header `X-Signature: t=<unix seconds>,v1=<hex>`, where v1 is HMAC-SHA256 with the receiver's
secret over `<t>.<raw body>`. The timestamp inside the signed text lets a receiver refuse
replays (we suggest 5 minutes); `verify` below is what a receiver does.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Signature"
TOLERANCE_S = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - t) > TOLERANCE_S:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
