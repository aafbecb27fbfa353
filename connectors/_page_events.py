"""Turn the plain objects sent by `wa_bridge.js` into engine events.

Pure functions, so the translation is tested without a browser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.events import Ack, Message, Revoked


def wid_without_device(wid: str) -> str:
    """`5511999999999:12@c.us` -> `5511999999999@c.us` (a linked-device suffix)."""
    user, _, server = wid.partition("@")
    return f"{user.split(':')[0]}@{server}" if server else user.split(":")[0]


def phone_from_wid(wid: str) -> str:
    """E.164 phone of a `@c.us` wid. Only for person ids: an `@lid` holds no phone."""
    user, _, server = wid.partition("@")
    if server != "c.us":
        raise ValueError(f"not a phone-number wid: {wid!r}")
    digits = user.split(":")[0]
    if not digits.isdigit():
        raise ValueError(f"not a phone-number wid: {wid!r}")
    return f"+{digits}"


def _opt_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def message_event(instance_id: str, data: dict[str, Any]) -> Message:
    size = data.get("size")
    sender = _opt_str(data, "sender_phone")
    is_group = bool(data["is_group"])
    return Message(
        instance_id=instance_id,
        id=str(data["id"]),
        serialized_id=str(data["serialized_id"]),
        chat_id=str(data["chat_id"]),
        from_me=bool(data["from_me"]),
        type=str(data["type"]),
        body=data["body"] if isinstance(data.get("body"), str) else None,
        caption=_opt_str(data, "caption"),
        mimetype=_opt_str(data, "mimetype"),
        filename=_opt_str(data, "filename"),
        size=int(size) if isinstance(size, int | float) else None,
        timestamp=datetime.fromtimestamp(float(data["t"]), tz=UTC),
        is_group=is_group,
        author=_opt_str(data, "author"),
        notify_name=_opt_str(data, "notify_name"),
        quoted_id=_opt_str(data, "quoted_id"),
        sender_phone=f"+{sender}" if sender and sender.isdigit() else None,
        chat_name=_opt_str(data, "chat_name") if is_group else None,
        details=data["details"] if isinstance(data.get("details"), dict) else {},
    )


def ack_event(instance_id: str, data: dict[str, Any]) -> Ack:
    return Ack(
        instance_id=instance_id,
        message_ids=tuple(str(i) for i in data["ids"]),
        ack=int(data["ack"]),
        chat_id=str(data["chat_id"]),
        sender=_opt_str(data, "sender"),
    )


def revoked_event(instance_id: str, data: dict[str, Any]) -> Revoked:
    return Revoked(
        instance_id=instance_id,
        message_id=str(data["message_id"]),
        chat_id=str(data["chat_id"]),
        from_me=data.get("from_me") is True,
    )
