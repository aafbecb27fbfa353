"""Events an engine emits to its sink.

Every event is a small frozen dataclass whose first field is the instance id, so one sink can
serve many engines. Ids are always plain strings: WhatsApp Web's Wid/MsgKey objects are turned
into strings inside the page (see docs/whatsapp-web.md) and never reach Python.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Qr:
    """A QR code to show the user. `code` is WhatsApp's `fullCode`; render it as-is."""

    instance_id: str
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PairingCode:
    """An 8-character code the user types on the phone (link with phone number)."""

    instance_id: str
    code: str


@dataclass(frozen=True, slots=True)
class Connected:
    """The device is linked and WhatsApp Web is ready. `phone` is E.164 (`+5511999999999`)."""

    instance_id: str
    wid: str
    phone: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The browser side went away (crash, closed page, dead browser); the login is intact."""

    instance_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class StreamState:
    """WhatsApp's own connection, while the browser lives (wa-js `conn.stream_mode_changed`,
    `conn.stream_info_changed`, `conn.online`, `conn.backend_event`; connectors/_health.py):
    down with a reason (offline, conflict, banned, outdated, proxy_blocked), or back up."""

    instance_id: str
    up: bool
    reason: str


@dataclass(frozen=True, slots=True)
class LoggedOut:
    """The phone removed this device (or WhatsApp asked to authenticate again)."""

    instance_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Message:
    """A message in any chat, inbound or from-me (typed on the phone or sent by us).

    `id` is the short WhatsApp id (`MsgKey.id`), `serialized_id` the full `MsgKey._serialized`.
    `sender_phone` is the E.164 phone of the person on the other side of a one-to-one chat (or of
    the author in a group) when WhatsApp tells it; for an `@lid` chat it comes from WhatsApp's own
    mapping and is never parsed out of the LID. `chat_name` is a group's subject (None for a
    one-to-one chat, or when WhatsApp Web has not loaded the group's metadata).
    """

    instance_id: str
    id: str
    serialized_id: str
    chat_id: str
    from_me: bool
    type: str
    body: str | None
    caption: str | None
    mimetype: str | None
    filename: str | None
    size: int | None
    timestamp: datetime
    is_group: bool
    author: str | None
    notify_name: str | None
    quoted_id: str | None
    sender_phone: str | None
    chat_name: str | None = None
    # What the message carries beyond its text (issue 16; connectors/wa_bridge.js
    # messageDetails): `location`, `vcards`, `poll`, `view_once`, `forwarded`, `quoted_text`.
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ack:
    """Delivery state of messages we sent: 1 sent, 2 delivered, 3 read, 4 played. In a group
    each participant's receipt is its own Ack, naming that participant as `sender` (wa-js
    chat/events/registerAckMessageEvent.ts); None for a one-to-one chat and for ack 1."""

    instance_id: str
    message_ids: tuple[str, ...]
    ack: int
    chat_id: str
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Revoked:
    """A message was deleted for everyone. `message_id` is the short id of the deleted message."""

    instance_id: str
    message_id: str
    chat_id: str
    # The deleted message was the number's own (wa-js's refId.fromMe; issue 16).
    from_me: bool = False


@dataclass(frozen=True, slots=True)
class Ignored:
    """A notification or system message (group changes, security codes, call logs...): not
    something a person wrote, so never posted to GHL; kept in the number's journey."""

    instance_id: str
    message_id: str
    chat_id: str
    type: str


@dataclass(frozen=True, slots=True)
class WaProblem:
    """wa-js reports that WhatsApp Web is not what it expects: `conn.needs_update`, or a module
    or property it could not find (wa-js's own console errors, whatsapp/exportModule.ts). The
    number may still work; features built on what is missing will not."""

    instance_id: str
    problem: str


@dataclass(frozen=True, slots=True)
class Reaction:
    """Someone reacted to a message (wa-js `chat.new_reaction`); `text` '' = removed.
    `id` is the reaction's own short id, `message_id` the reacted message's."""

    instance_id: str
    id: str
    chat_id: str
    message_id: str
    text: str
    from_me: bool
    sender: str | None


@dataclass(frozen=True, slots=True)
class Edited:
    """A message was edited (wa-js `chat.msg_edited`): `message_id` is the original's short
    id, `edit_id` the edit's own (when WhatsApp Web gives it), `text` the new text."""

    instance_id: str
    message_id: str
    chat_id: str
    from_me: bool
    edit_id: str | None
    text: str | None
    is_group: bool
    author: str | None
    notify_name: str | None


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A call is ringing (wa-js `call.incoming_call`); `chat_id` is the caller's wid."""

    instance_id: str
    call_id: str
    chat_id: str
    is_video: bool
    is_group: bool


@dataclass(frozen=True, slots=True)
class ChatRead:
    """The chat's unread messages were read on the phone (wa-js `chat.unread_count_changed`
    down to 0)."""

    instance_id: str
    chat_id: str


EngineEvent = (
    Qr
    | PairingCode
    | Connected
    | Disconnected
    | StreamState
    | LoggedOut
    | Message
    | Ack
    | Revoked
    | Ignored
    | WaProblem
    | Reaction
    | Edited
    | IncomingCall
    | ChatRead
)
EventSink = Callable[[EngineEvent], Awaitable[None]]
