"""From when a number catches up on what reached WhatsApp while we did not listen.

After a restart (app, browser or page) or a reconnect, each chat is read back from the page
(connectors/wa_bridge.js `catchUp`) from the last message we stored in that chat (its own
watermark: a chat can miss messages while others go on, e.g. those wa-js's hook never saw);
a chat we never stored a message of is read from the number's bound: its last stored message,
or when it was last connected (or when its stream went down). Never more than
CATCH_UP_MAX_DAYS back. The store keeps each message once (unique per number and WhatsApp id),
so overlap costs nothing. A first link has no such time and imports no history.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from ghl_app import db
from ghl_app.models import Instance, Message

# Read back a little before the watermark: the phone's clock and ours differ, and a message may
# be stored after a later one.
CATCH_UP_SLACK = timedelta(minutes=2)

_LATEST_SQL = "SELECT MAX(sent_at) AS latest FROM messages WHERE instance_id = ?"
_PER_CHAT_SQL = (
    "SELECT c.chat_id AS chat_id, MAX(m.sent_at) AS latest FROM messages m"
    " JOIN contacts c ON c.id = m.contact_id"
    " WHERE m.instance_id = ? AND m.location_id = ? AND c.location_id = ?"
    " GROUP BY c.chat_id"
)


def _aware(value: object) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def catch_up_since(instance_id: uuid.UUID, *, max_days: int = 3) -> datetime | None:
    """The time to catch up from, or None for a number never connected before (or with
    catch-up off: CATCH_UP_MAX_DAYS=0). Never more than `max_days` back: a number relinked
    after months must not import them."""
    if max_days <= 0:
        return None
    instance = await Instance.get_or_none(id=instance_id)
    if instance is None:
        return None
    rows = await db.fetch(
        _LATEST_SQL, [Message._meta.fields_map["instance_id"].to_db_value(instance_id, Message)]
    )
    latest = _aware(rows[0]["latest"]) if rows else None
    candidates = [t for t in (latest, _aware(instance.connected_at)) if t is not None]
    if not candidates:
        return None
    return max(max(candidates) - CATCH_UP_SLACK, datetime.now(UTC) - timedelta(days=max_days))


async def chat_watermarks(
    instance_id: uuid.UUID, location_id: str, *, max_days: int = 3
) -> dict[str, int]:
    """Each chat's own start (epoch seconds): its newest stored message, less the slack, and
    never more than `max_days` back. Chats missing here start at the number's bound."""
    floor = datetime.now(UTC) - timedelta(days=max(max_days, 0))
    instance_db = Message._meta.fields_map["instance_id"].to_db_value(instance_id, Message)
    rows = await db.fetch(_PER_CHAT_SQL, [instance_db, location_id, location_id])
    marks: dict[str, int] = {}
    for row in rows:
        latest = _aware(row["latest"])
        if latest is not None and row["chat_id"]:
            marks[str(row["chat_id"])] = int(max(latest - CATCH_UP_SLACK, floor).timestamp())
    return marks
