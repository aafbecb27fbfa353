"""A WhatsApp number's own settings for the events of issue 16, kept in one JSON column of its
instance (`instances.event_settings`): the language of the notes it leaves in GHL, what it does
with calls, and the chats it leaves out. Absent keys take the defaults here, so a number
created before these settings existed behaves as a new one."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from ghl_app import phones
from ghl_app.bridge.pacing import Pacing
from ghl_app.errors import AppError
from ghl_app.models import Instance

LANGUAGES = ("en", "pt-BR")
MAX_IGNORED = 500
MAX_CALL_REPLY = 1000


@dataclass(frozen=True, slots=True)
class NumberSettings:
    notes_language: str = "en"
    # Decline incoming calls and answer in the chat with `call_reply` (WAHA's calls app).
    reject_calls: bool = False
    call_reply: str = ""
    # Chats (ids such as `...@g.us`, or phone numbers) whose messages never reach GHL.
    ignored_chats: tuple[str, ...] = ()
    # Read state both ways: read in GHL marks the WhatsApp chat read, and read on the phone
    # marks the GHL conversation read (bridge/read_sync.py).
    read_sync: bool = True
    # Outbound pacing (bridge/pacing.py); None = the app's defaults (SEND_* settings).
    pacing_min_gap_s: float | None = None
    pacing_jitter_s: float | None = None
    pacing_per_minute: int | None = None
    typing: bool = False
    typing_max_s: float = 3.0

    def pacing(self, defaults: Pacing) -> Pacing:
        return Pacing(
            min_gap_s=defaults.min_gap_s
            if self.pacing_min_gap_s is None
            else self.pacing_min_gap_s,
            jitter_s=defaults.jitter_s if self.pacing_jitter_s is None else self.pacing_jitter_s,
            per_minute=(
                defaults.per_minute if self.pacing_per_minute is None else self.pacing_per_minute
            ),
            typing=self.typing,
            typing_max_s=self.typing_max_s,
        )

    def ignores(self, chat_id: str) -> bool:
        if not self.ignored_chats:
            return False
        user = chat_id.split("@")[0].split(":")[0]
        return chat_id in self.ignored_chats or (
            chat_id.endswith("@c.us") and f"+{user}" in self.ignored_chats
        )

    def view(self) -> dict[str, Any]:
        data = asdict(self)
        data["ignored_chats"] = list(self.ignored_chats)
        return data


def initial(locale: str) -> dict[str, Any]:
    """A new number's settings: its notes in the language of the user who added it."""
    language = next((x for x in LANGUAGES if x.split("-")[0] == locale.split("-")[0][:2]), "en")
    return {"notes_language": language}


def from_stored(raw: Any) -> NumberSettings:
    data = raw if isinstance(raw, dict) else {}
    language = data.get("notes_language")
    ignored = data.get("ignored_chats")
    return NumberSettings(
        notes_language=language if language in LANGUAGES else "en",
        reject_calls=data.get("reject_calls") is True,
        call_reply=str(data.get("call_reply") or ""),
        ignored_chats=tuple(str(x) for x in ignored) if isinstance(ignored, list) else (),
        read_sync=data.get("read_sync") is not False,
        pacing_min_gap_s=_number(data.get("pacing_min_gap_s")),
        pacing_jitter_s=_number(data.get("pacing_jitter_s")),
        pacing_per_minute=_whole(data.get("pacing_per_minute")),
        typing=data.get("typing") is True,
        typing_max_s=_or(_number(data.get("typing_max_s")), 3.0),
    )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


async def load(instance_id: uuid.UUID, location_id: str) -> NumberSettings:
    rows = await Instance.filter(id=instance_id, location_id=location_id).values_list(
        "event_settings", flat=True
    )
    return from_stored(rows[0] if rows else None)


def _bad(message: str) -> AppError:
    return AppError("bad_setting", message, 400)


def _chat_entry(value: Any) -> str:
    """A chat id as WhatsApp names it, or a phone number (kept as E.164)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise _bad("Each ignored chat is a WhatsApp chat id or a phone number.")
    value = value.strip()
    if "@" in value:
        if value.split("@")[1] not in ("c.us", "g.us", "lid", "newsletter", "broadcast"):
            raise _bad(f"{value!r} is not a WhatsApp chat id.")
        return str(value)
    e164 = phones.to_e164(value)
    if e164 is None:
        raise _bad(f"{value!r} is not a phone number with its country code.")
    return e164


# The pacing settings a number may set, with their bounds.
_LIMITS: dict[str, tuple[float, float]] = {
    "pacing_min_gap_s": (0, 600),
    "pacing_jitter_s": (0, 600),
    "pacing_per_minute": (0, 1000),
    "typing_max_s": (0, 20),
}


def merged(current: NumberSettings, body: dict[str, Any]) -> NumberSettings:
    """`current` with the changes a request asks for; a 400 for anything malformed."""
    known = {"notes_language", "reject_calls", "call_reply", "ignored_chats", "read_sync"}
    known |= set(_LIMITS) | {"typing"}
    if not body or not body.keys() <= known:
        raise _bad(f"Send one or more of: {', '.join(sorted(known))}.")
    data = current.view()
    if "notes_language" in body:
        if body["notes_language"] not in LANGUAGES:
            raise _bad(f"notes_language is one of {', '.join(LANGUAGES)}.")
        data["notes_language"] = body["notes_language"]
    for name, (low, high) in _LIMITS.items():
        if name in body:
            value = body[name]
            if value is None:
                data[name] = None  # back to the app's default
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad(f"{name} must be a number.")
            if not low <= value <= high or (name == "pacing_per_minute" and value != int(value)):
                raise _bad(f"{name} must be between {low} and {high}.")
            data[name] = int(value) if name == "pacing_per_minute" else float(value)
    for flag in ("reject_calls", "read_sync", "typing"):
        if flag in body:
            if not isinstance(body[flag], bool):
                raise _bad(f"{flag} must be true or false.")
            data[flag] = body[flag]
    if "call_reply" in body:
        reply = body["call_reply"]
        if not isinstance(reply, str) or len(reply) > MAX_CALL_REPLY:
            raise _bad(f"call_reply is a text of at most {MAX_CALL_REPLY} characters.")
        data["call_reply"] = reply.strip()
    if "ignored_chats" in body:
        chats = body["ignored_chats"]
        if not isinstance(chats, list) or len(chats) > MAX_IGNORED:
            raise _bad(f"ignored_chats is a list of at most {MAX_IGNORED} chats.")
        data["ignored_chats"] = list(dict.fromkeys(_chat_entry(c) for c in chats))
    return from_stored(data)


async def save(instance_id: uuid.UUID, location_id: str, settings: NumberSettings) -> None:
    await Instance.filter(id=instance_id, location_id=location_id).update(
        event_settings=settings.view()
    )
