"""The page's issue-16 events (reactions, edits, calls: connectors/wa_bridge.js
`attachEventKinds`) as engine events. Pure functions, like `_page_events`."""

from __future__ import annotations

from typing import Any

from connectors.events import ChatRead, Edited, EngineEvent, IncomingCall, Reaction

KINDS = frozenset({"reaction", "edited", "call", "chat_read"})


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def translate(instance_id: str, data: dict[str, Any]) -> EngineEvent | None:
    """One of KINDS as its engine event; None when the page left out what it needs."""
    kind = data.get("kind")
    chat_id = _text(data, "chat_id")
    if chat_id is None:
        return None
    if kind == "reaction":
        reaction_id, message_id = _text(data, "id"), _text(data, "message_id")
        if reaction_id is None or message_id is None:
            return None
        text = data.get("text")
        return Reaction(
            instance_id=instance_id,
            id=reaction_id,
            chat_id=chat_id,
            message_id=message_id,
            text=text if isinstance(text, str) else "",
            from_me=bool(data.get("from_me")),
            sender=_text(data, "sender"),
        )
    if kind == "edited":
        message_id = _text(data, "message_id")
        if message_id is None:
            return None
        return Edited(
            instance_id=instance_id,
            message_id=message_id,
            chat_id=chat_id,
            from_me=bool(data.get("from_me")),
            edit_id=_text(data, "edit_id"),
            text=_text(data, "text"),
            is_group=bool(data.get("is_group")),
            author=_text(data, "author"),
            notify_name=_text(data, "notify_name"),
        )
    if kind == "chat_read":
        return ChatRead(instance_id=instance_id, chat_id=chat_id)
    if kind == "call":
        call_id = _text(data, "id")
        if call_id is None:
            return None
        return IncomingCall(
            instance_id=instance_id,
            call_id=call_id,
            chat_id=chat_id,
            is_video=bool(data.get("is_video")),
            is_group=bool(data.get("is_group")),
        )
    return None
