"""What the engine remembers about the page's events, and their translation into engine events.

The page repeats itself (the same QR on every state check, `connected` after each main_ready,
a ciphertext message fired twice); these filters make each fact one event.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors import _page_events, _page_kinds
from connectors._health import BACKEND_PROBLEMS, Health
from connectors.events import (
    Connected,
    EngineEvent,
    Ignored,
    LoggedOut,
    PairingCode,
    Qr,
    WaProblem,
)

log = logging.getLogger(__name__)

# WhatsApp's first QR lives ~60 s, the next ones ~20 s (docs/whatsapp-web.md).
_FIRST_QR_TTL = timedelta(seconds=60)
_NEXT_QR_TTL = timedelta(seconds=20)
_REMEMBERED = 4096


@dataclass(slots=True)
class LoginState:
    """The login as the page of one browser launch reported it."""

    connected: bool = False
    qr_count: int = 0
    last_qr: str | None = None
    health: Health = field(default_factory=Health)  # WhatsApp's own connection (_health.py)


@dataclass(slots=True)
class MessageMemory:
    """Outlives browser launches: a restarted page may repeat the messages it just delivered."""

    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    # short or serialized id -> (serialized id, filename): download_media takes either.
    media: OrderedDict[str, tuple[str, str | None]] = field(default_factory=OrderedDict)

    def media_for(self, message_id: str) -> tuple[str, str | None]:
        return self.media.get(message_id, (message_id, None))


def translate(
    instance_id: str, login: LoginState, memory: MessageMemory, data: dict[str, Any]
) -> EngineEvent | None:
    """One page event as an engine event; None for repeats and for what is only logged."""
    kind = data.get("kind")
    if kind == "qr":
        code = str(data["code"])
        if code == login.last_qr:
            return None
        login.last_qr = code
        login.qr_count += 1
        ttl = _FIRST_QR_TTL if login.qr_count == 1 else _NEXT_QR_TTL
        return Qr(instance_id, code, datetime.now(UTC) + ttl)
    if kind == "connected":
        if login.connected:
            return None
        login.connected = True
        login.last_qr = None
        wid = _page_events.wid_without_device(str(data["wid"]))
        return Connected(instance_id, wid, _page_events.phone_from_wid(wid))
    if kind in ("stream", "stream_info", "online", "backend"):
        return _health_event(instance_id, login, kind, data)
    if kind == "logged_out":
        if not login.connected:
            return None  # require_auth on the QR screen: nothing was lost
        login.connected = False
        login.qr_count = 0
        return LoggedOut(instance_id, str(data["reason"]))
    if kind == "message":
        message = _page_events.message_event(instance_id, data["message"])
        if not _remember(memory.seen, message.serialized_id, None):
            return None  # a message fired twice (wa-js re-emits; the bridge skips ciphertext)
        if message.mimetype is not None:
            entry = (message.serialized_id, message.filename)
            _remember(memory.media, message.id, entry)
            _remember(memory.media, message.serialized_id, entry)
        return message
    if kind == "ack":
        return _page_events.ack_event(instance_id, data)
    if kind == "revoked":
        return _page_events.revoked_event(instance_id, data)
    if kind == "ignored":
        # A notification or system message (group changes, security codes, call logs): not
        # something a person wrote, so not posted to GHL; the journey shows it as ignored.
        kind_of = str(data.get("type"))[:40]
        log.info("whatsapp %s message ignored", kind_of, extra={"instance_id": instance_id})
        return Ignored(instance_id, str(data.get("id")), str(data.get("chat_id")), kind_of)
    if kind in _page_kinds.KINDS:
        return _page_kinds.translate(instance_id, data)
    if kind == "pairing_code":
        if login.connected:
            return None
        return PairingCode(instance_id, str(data["code"]))
    if kind == "wa_problem":
        return WaProblem(instance_id, str(data.get("problem"))[:300])
    if kind == "error":
        log.warning("page listener failed", extra={"instance_id": instance_id, "detail": data})
    elif kind == "qr_idle":
        log.info("qr idle", extra={"instance_id": instance_id})
    return None


def _health_event(
    instance_id: str, login: LoginState, kind: str, data: dict[str, Any]
) -> EngineEvent | None:
    """One of the signals of WhatsApp's own connection (connectors/_health.py)."""
    health = login.health
    if kind == "stream":
        health.on_mode(str(data.get("mode")))
    elif kind == "stream_info":
        health.on_info(str(data.get("info")))
    elif kind == "online":
        health.on_online(data.get("online") is not False)
    else:
        name = str(data.get("event"))[:60]
        log.info("whatsapp backend event %s", name, extra={"instance_id": instance_id})
        if name in BACKEND_PROBLEMS:
            return WaProblem(instance_id, BACKEND_PROBLEMS[name])
        health.on_backend(name)
    return health.change(instance_id, connected=login.connected)


def _remember(store: OrderedDict[str, Any], key: str, value: Any) -> bool:
    """Insert into a bounded insertion-ordered map; False when the key was already there."""
    if key in store:
        return False
    store[key] = value
    while len(store) > _REMEMBERED:
        store.popitem(last=False)
    return True
