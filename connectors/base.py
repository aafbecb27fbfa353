"""The engine interface the session manager codes against.

An engine drives one WhatsApp account (one *instance*) from one profile folder. It knows nothing
of GHL, the database or HTTP: it starts, emits events to its sink, and takes commands.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from connectors.events import EngineEvent, EventSink

__all__ = [
    "Engine",
    "EngineError",
    "EngineEvent",
    "EngineFactory",
    "EventSink",
    "Media",
    "ResolvedId",
    "SentMessage",
    "new_message_id",
]


class EngineError(Exception):
    """A command the engine could not carry out. `code` is stable and machine-readable."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code


@dataclass(frozen=True, slots=True)
class SentMessage:
    id: str
    serialized_id: str
    # A group send: the participants the page knew at the send (without us), whose receipts
    # are awaited; None for a one-to-one chat, or a group whose members the page could not tell.
    recipients: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Media:
    data: bytes
    mimetype: str
    filename: str | None


@dataclass(frozen=True, slots=True)
class ResolvedId:
    """The canonical id WhatsApp knows for a phone (may differ from what the user typed)."""

    wid: str
    lid: str | None


def new_message_id() -> str:
    """A WhatsApp-Web-style message id, reserved by the caller before sending.

    The bridge stores it before the send, so the `chat.new_message` echo of our own message is
    recognised and never mirrored back (architecture.md, flow 6).
    """
    return "3EB0" + secrets.token_hex(8).upper()


class Engine(Protocol):
    instance_id: str

    async def start(self) -> None:
        """Launch and start emitting events; returns once the page is loaded and wa-js is in.

        QR codes and `Connected` arrive as events. A profile that holds a login yields
        `Connected` without any `Qr`.
        """

    async def stop(self) -> None:
        """Close, keeping the profile; then no OS process of this engine is left. Idempotent."""

    async def logout(self) -> None:
        """Unlink the device when possible, stop, and wipe the profile folder. Emits no event."""

    async def send_text(self, chat_id: str, text: str, *, message_id: str) -> SentMessage: ...

    async def send_file(
        self,
        chat_id: str,
        data: bytes,
        *,
        mimetype: str,
        filename: str,
        caption: str | None,
        message_id: str,
        voice: bool = False,
    ) -> SentMessage:
        """`voice`: an OGG/Opus audio sent as a voice note (PTT), not as a file."""
        ...

    async def download_media(self, message_id: str) -> Media: ...

    async def resolve_phone(self, phone: str) -> ResolvedId | None: ...

    async def request_pairing_code(self, phone: str) -> str: ...

    async def mark_read(self, chat_id: str) -> None:
        """Send the chat's read receipts, as opening it on the phone does."""
        ...

    async def mark_composing(self, chat_id: str, seconds: float) -> None:
        """Show "typing…" in the chat for `seconds`."""
        ...

    async def reject_call(self, call_id: str) -> bool:
        """Decline a ringing call; False when it is no longer ringing."""
        ...

    async def catch_up(self, since: int, chats: Mapping[str, int] | None = None) -> int:
        """Replay, as message events, what WhatsApp Web holds and never told us: of each chat
        in `chats` what is newer than its own start, of every other chat what is newer than
        `since` (epoch seconds); returns how many messages were replayed (the store drops
        known ones)."""
        ...

    def pids(self) -> list[int]:
        """OS pids of every live process this engine started (browser tree, own driver)."""
        ...

    @property
    def running(self) -> bool: ...


EngineFactory = Callable[[str, Path, EventSink], Engine]
