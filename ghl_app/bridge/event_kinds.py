"""WhatsApp events that GHL has no message type for (issue 16), as the text a CRM user reads in
the conversation, in the number's notes language (notes_text.py).

Two halves. `message_parts` renders what a message carries beyond its text (a location, contact
cards, a poll, view-once, a quote, forwarded) for the inbound store. `EventKinds` turns the
events that are not messages (a reaction, an edit, a delete for everyone, a call) into notes:
each is stored and posted like a message of its chat (inbound.py: in order with the chat,
once, retried), under an id of its own, and keeps the original's id in its `media` so the
number's journey links the two.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from connectors.base import EngineError, new_message_id
from connectors.events import Edited, IncomingCall, Reaction, Revoked
from connectors.events import Message as WaMessage
from ghl_app.bridge import number_settings
from ghl_app.bridge.media import describe
from ghl_app.bridge.notes_text import first_words, media_name, say
from ghl_app.bridge.number_settings import NumberSettings
from ghl_app.models import Direction, Message
from ghl_app.sessions import SessionManager

log = logging.getLogger(__name__)

NOTE_KINDS = ("reaction", "edited", "deleted", "call")


def _map_link(lat: Any, lng: Any) -> str | None:
    if not isinstance(lat, int | float) or not isinstance(lng, int | float):
        return None
    # Google's documented cross-platform Maps URL (developers.google.com/maps/documentation/urls).
    return f"https://www.google.com/maps/search/?api=1&query={lat},{lng}"


def _vcard_people(card: str) -> str:
    """`Name +55 11 91234-5678, +55 ...` from one vCard (RFC 6350: FN and TEL properties)."""
    name = ""
    numbers: list[str] = []
    for line in card.replace("\r\n ", "").splitlines():
        prop, _, value = line.partition(":")
        head = prop.split(";")[0].upper().split(".")[-1]  # "item1.TEL" is TEL too
        value = value.replace("\\,", ",").replace("\\;", ";").strip()
        if head == "FN" and value:
            name = value
        elif head == "TEL" and value:
            numbers.append(value)
    return " ".join(x for x in (name, ", ".join(numbers)) if x) or "?"


def _location(details: dict[str, Any], language: str) -> str:
    place = details.get("loc") or ""
    place = " — ".join(x.strip() for x in str(place).splitlines() if x.strip())
    lines = [say(language, "location", place=place) if place else say(language, "location_unnamed")]
    for link in (details.get("url"), _map_link(details.get("lat"), details.get("lng"))):
        if isinstance(link, str) and link and link not in lines:
            lines.append(link)
    return "\n".join(lines)


async def _quoted_text(event: WaMessage, location_id: str, language: str) -> str | None:
    quoted = event.details.get("quoted_text")
    if isinstance(quoted, str) and quoted:
        return quoted
    if event.quoted_id is None:
        return None
    row = await Message.filter(
        location_id=location_id,
        instance_id=uuid.UUID(event.instance_id),
        wa_message_id=event.quoted_id,
    ).first()
    if row is None:
        return None
    if row.body:
        return row.body
    return media_name(language, str((row.media or {}).get("type", "message")))


async def message_parts(
    event: WaMessage, settings: NumberSettings, location_id: str
) -> tuple[str | None, dict[str, Any] | None]:
    """(text for GHL, media info) of a WhatsApp message, in the number's language."""
    language = settings.notes_language
    details = event.details
    note = details.get("note")
    if isinstance(note, dict):  # one of EventKinds' notes: its text is made already
        return event.body, {**note, "supported": True, "note": True}
    info = describe(event)
    body = event.body if event.type == "chat" else event.caption
    if details.get("view_once"):
        body, info = say(language, "view_once"), None  # the phone alone may open it
    elif event.type == "location" and isinstance(details.get("location"), dict):
        body, info = _location(details["location"], language), None
    elif event.type in ("vcard", "multi_vcard") and details.get("vcards"):
        people = [_vcard_people(str(card)) for card in details["vcards"]]
        body, info = "\n".join(say(language, "contact", who=p) for p in people), None
    elif event.type == "poll_creation" and isinstance(details.get("poll"), dict):
        poll = details["poll"]
        lines = [say(language, "poll", question=str(poll.get("name") or ""))]
        lines += [f"{n}. {option}" for n, option in enumerate(poll.get("options") or [], 1)]
        body, info = "\n".join(lines), None
    prefix: list[str] = []
    if details.get("forwarded"):
        prefix.append(say(language, "forwarded"))
    quoted = await _quoted_text(event, location_id, language)
    if quoted:
        prefix.append(say(language, "quoted", quote=first_words(quoted)))
    if prefix:
        body = "\n".join([*prefix, body] if body else prefix)
    return body, info


def _note(
    instance_id: uuid.UUID,
    *,
    note_id: str,
    chat_id: str,
    text: str,
    kind: str,
    of: str | None,
    from_me: bool = False,
    author: str | None = None,
    notify_name: str | None = None,
) -> WaMessage:
    """A note as a message of its chat, for the inbound store."""
    return WaMessage(
        instance_id=str(instance_id),
        id=note_id,
        serialized_id=note_id,
        chat_id=chat_id,
        from_me=from_me,
        type="chat",
        body=text,
        caption=None,
        mimetype=None,
        filename=None,
        size=None,
        timestamp=datetime.now(UTC),
        is_group=chat_id.endswith("@g.us"),
        author=author,
        notify_name=notify_name,
        quoted_id=None,
        sender_phone=None,
        details={"note": {"type": kind, "of": of}},
    )


class EventKinds:
    """Reactions, edits, deletes and calls of one app: each a note through `store`."""

    def __init__(self, *, store: Any, sessions: SessionManager) -> None:
        self._store = store  # InboundBridge.store(instance_id, location_id, WaMessage) -> bool
        self._sessions = sessions

    async def _original(
        self, instance_id: uuid.UUID, location_id: str, wa_id: str
    ) -> Message | None:
        return await Message.filter(
            location_id=location_id, instance_id=instance_id, wa_message_id=wa_id
        ).first()

    async def _quote(self, row: Message | None, language: str) -> str | None:
        if row is None:
            return None
        if row.body:
            return first_words(row.body)
        if row.media:
            return media_name(language, str(row.media.get("type", "message")))
        return None

    async def on_reaction(self, instance_id: uuid.UUID, location_id: str, event: Reaction) -> None:
        settings = await number_settings.load(instance_id, location_id)
        language = settings.notes_language
        quote = await self._quote(
            await self._original(instance_id, location_id, event.message_id), language
        )
        if event.text:
            name = "reacted" if quote else "reacted_unknown"
            text = say(language, name, emoji=event.text, quote=quote or "")
        else:
            name = "reaction_removed" if quote else "reaction_removed_unknown"
            text = say(language, name, quote=quote or "")
        author = event.sender if event.chat_id.endswith("@g.us") else None
        await self._store(
            instance_id,
            location_id,
            _note(
                instance_id,
                note_id=f"reaction:{event.id}",
                chat_id=event.chat_id,
                text=text,
                kind="reaction",
                of=event.message_id,
                from_me=event.from_me,
                author=author,
            ),
        )

    async def on_edited(self, instance_id: uuid.UUID, location_id: str, event: Edited) -> None:
        settings = await number_settings.load(instance_id, location_id)
        language = settings.notes_language
        if event.text:
            text = say(language, "edited", text=event.text)
        else:
            text = say(language, "edited_empty")
        # One note per edit: WhatsApp gives each edit its own key (latestEditMsgKey); without
        # it, the same new text of the same message is the same edit.
        edit = (
            event.edit_id or f"{event.message_id}:{uuid.uuid5(uuid.NAMESPACE_URL, text).hex[:12]}"
        )
        await self._store(
            instance_id,
            location_id,
            _note(
                instance_id,
                note_id=f"edit:{edit}",
                chat_id=event.chat_id,
                text=text,
                kind="edited",
                of=event.message_id,
                from_me=event.from_me,
                author=event.author,
                notify_name=event.notify_name,
            ),
        )

    async def on_revoked(self, instance_id: uuid.UUID, location_id: str, event: Revoked) -> None:
        original = await self._original(instance_id, location_id, event.message_id)
        if event.from_me or (original is not None and original.direction == Direction.OUTBOUND):
            return  # ours, deleted from the phone: GHL keeps what was sent, nothing to tell
        settings = await number_settings.load(instance_id, location_id)
        await self._store(
            instance_id,
            location_id,
            _note(
                instance_id,
                note_id=f"deleted:{event.message_id}",
                chat_id=event.chat_id,
                text=say(settings.notes_language, "deleted"),
                kind="deleted",
                of=event.message_id,
            ),
        )

    async def on_call(self, instance_id: uuid.UUID, location_id: str, event: IncomingCall) -> None:
        settings = await number_settings.load(instance_id, location_id)
        if settings.ignores(event.chat_id):
            return
        medium = "video" if event.is_video else "voice"
        declined = False
        engine = await self._sessions.engine_of(instance_id)
        extra = {"instance_id": str(instance_id), "location_id": location_id}
        if settings.reject_calls and engine is not None:
            try:
                declined = await engine.reject_call(event.call_id)
                if declined and settings.call_reply:
                    # Its echo (a from-me message of the chat) reaches GHL like a message
                    # typed on the phone: the thread shows what the caller was told.
                    await engine.send_text(
                        event.chat_id, settings.call_reply, message_id=new_message_id()
                    )
            except EngineError as exc:  # the call is still noted, as missed if not declined
                log.warning("declining a whatsapp call failed: %s", exc, extra=extra)
            if declined:
                log.info("whatsapp call declined (%s)", medium, extra=extra)
        name = f"declined_{medium}" if declined else f"missed_{medium}"
        await self._store(
            instance_id,
            location_id,
            _note(
                instance_id,
                note_id=f"call:{event.call_id}",
                chat_id=event.chat_id,
                text=say(settings.notes_language, name),
                kind="call",
                of=None,
            ),
        )


def without_note_media(info: dict[str, Any] | None) -> bool:
    """Whether a stored message's media info is a note's (nothing to download or attach)."""
    return bool(info and info.get("note"))
