"""The per-message statements of WhatsApp -> GHL, as plain SQL (see `ghl_app.db`).

A message is inserted once, then its sync reads it with the contact's GHL ids and writes the
outcome; through the ORM those three were ~2 ms of CPU per message, as text ~0.4 ms.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ghl_app import db
from ghl_app.models import Direction, Message, MessageStatus, Origin

_LOAD_SQL = """
SELECT m.id, m.instance_id, m.location_id, m.contact_id, m.wa_message_id, m.body, m.media,
    m.status, m.origin, m.sent_at, m.ghl_posted_at, c.ghl_contact_id, c.ghl_conversation_id
FROM messages AS m LEFT JOIN contacts AS c ON c.id = m.contact_id AND c.location_id = m.location_id
WHERE m.id = ? AND m.location_id = ?
"""

_FIELDS = Message._meta.fields_map

_INSERT_SQL = """
INSERT INTO messages (instance_id, location_id, contact_id, direction, origin, wa_message_id,
    body, media, status, sent_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id
"""


@dataclass(frozen=True, slots=True)
class SyncRow:
    """A stored message, with what is known of its contact in GHL."""

    id: int
    instance_id: uuid.UUID | None
    location_id: str
    contact_id: int | None
    wa_message_id: str | None
    body: str | None
    media: dict[str, Any] | None
    status: MessageStatus
    origin: Origin
    sent_at: datetime | None
    ghl_posted_at: datetime | None
    ghl_contact_id: str | None
    ghl_conversation_id: str | None


async def insert_received(
    conn: BaseDBAsyncClient,
    *,
    instance_id: uuid.UUID,
    location_id: str,
    contact_id: int,
    direction: Direction,
    origin: Origin,
    wa_message_id: str,
    body: str | None,
    media: dict[str, Any] | None,
    sent_at: datetime | None,
) -> int:
    """A WhatsApp message, stored as received; raises IntegrityError when it already is."""
    now = datetime.now(UTC)
    values = [
        _FIELDS["instance_id"].to_db_value(instance_id, Message),
        location_id,
        contact_id,
        direction.value,
        origin.value,
        wa_message_id,
        body,
        _FIELDS["media"].to_db_value(media, Message),
        MessageStatus.RECEIVED.value,
        sent_at,
        now,
        now,
    ]
    rows = await db.fetch(_INSERT_SQL, values, conn)
    return int(rows[0]["id"])


async def load_for_sync(message_id: int, location_id: str) -> SyncRow | None:
    rows = await db.fetch(_LOAD_SQL, [message_id, location_id])
    if not rows:
        return None
    row = rows[0]
    # The column values as the ORM would give them (SQLite hands back text, asyncpg types).
    return SyncRow(
        id=int(row["id"]),
        instance_id=uuid.UUID(str(row["instance_id"])) if row["instance_id"] else None,
        location_id=row["location_id"],
        contact_id=row["contact_id"],
        wa_message_id=row["wa_message_id"],
        body=row["body"],
        media=_FIELDS["media"].to_python_value(row["media"]),
        status=MessageStatus(row["status"]),
        origin=Origin(row["origin"]),
        sent_at=_FIELDS["sent_at"].to_python_value(row["sent_at"]),
        ghl_posted_at=_FIELDS["ghl_posted_at"].to_python_value(row["ghl_posted_at"]),
        ghl_contact_id=row["ghl_contact_id"],
        ghl_conversation_id=row["ghl_conversation_id"],
    )


async def mark_posting(message_id: int) -> datetime:
    """Note that a post into GHL starts (the first one only counts); returns that time."""
    now = datetime.now(UTC)
    await db.execute(
        "UPDATE messages SET ghl_posted_at = ? WHERE id = ? AND ghl_posted_at IS NULL",
        [now, message_id],
    )
    return now


async def unmark_posting(message_id: int, marked_at: datetime) -> None:
    """Undo `mark_posting` when that post never left (our own budget held it back)."""
    await db.execute(
        "UPDATE messages SET ghl_posted_at = NULL WHERE id = ? AND ghl_posted_at = ?",
        [message_id, marked_at],
    )


async def mark_synced(message_id: int, ghl_message_id: str | None) -> None:
    """Synced, error cleared; raises IntegrityError when GHL's id is already on another row."""
    if ghl_message_id:
        await db.execute(
            "UPDATE messages SET status = ?, error = NULL, ghl_message_id = ? WHERE id = ?",
            [MessageStatus.SYNCED.value, ghl_message_id, message_id],
        )
    else:
        await db.execute(
            "UPDATE messages SET status = ?, error = NULL WHERE id = ?",
            [MessageStatus.SYNCED.value, message_id],
        )


async def record_error(message_id: int, error: str) -> None:
    await db.execute("UPDATE messages SET error = ? WHERE id = ?", [error[:500], message_id])
