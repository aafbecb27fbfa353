"""From when a number catches up on what reached WhatsApp while we did not listen.

After a restart (app, browser or page) or a reconnect, everything since the last message we
stored for the number, or since it was last connected when it has none, is read back from the
page (connectors/wa_bridge.js `catchUp`); the store keeps each message once (unique per number
and WhatsApp id), so overlap costs nothing. A first link has no such time and imports no history.
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
    latest = rows[0]["latest"] if rows else None
    if isinstance(latest, str):
        latest = datetime.fromisoformat(latest)
    candidates = [t for t in (latest, instance.connected_at) if isinstance(t, datetime)]
    if not candidates:
        return None
    newest = max(t if t.tzinfo else t.replace(tzinfo=UTC) for t in candidates)
    return max(newest - CATCH_UP_SLACK, datetime.now(UTC) - timedelta(days=max_days))
