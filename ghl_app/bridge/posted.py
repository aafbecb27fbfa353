"""Inbound exactly once without `altId`: a post whose answer never came may have been stored.

GHL keeps no dedupe on our id (`altId` is "external mail provider's message id", no lookup by it,
and `GetMessageResponseDto` has no `altId`: apps/conversations.json). So before a message is
posted again, its conversation's latest messages are read (`GET /conversations/{id}/messages`)
and one that is what we sent (direction, body, provider, date) and not yet any other row's GHL
message is taken as ours.

The date is matched both ways, because whether GHL's `dateAdded` is the `date` we send or the
time it stored the message is not documented: within a couple of seconds of our `date`, or not
older than our first post (less a slack for the two clocks). A chat's jobs run in order, so an
earlier identical message of the chat was posted, and its id recorded, before this one's first
post: that id is excluded, and so is every id another row holds.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from ghl_app.bridge import _rows
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import BudgetSpent
from ghl_app.jobs.errors import RetryableError
from ghl_app.models import Message

log = logging.getLogger(__name__)

# How far back a conversation is read: a message posted minutes ago is in its first page, unless
# the chat is very busy. Beyond this, the post is made again.
LOOKUP_PAGES = 6
SAME_DATE = timedelta(seconds=2)
CLOCK_SLACK = timedelta(seconds=60)


async def post_once(
    client: GhlClient,
    location_id: str,
    conversation_id: str | None,
    payload: dict[str, Any],
    *,
    message_id: int,
    posted_at: datetime | None,
    context: dict[str, Any],
) -> tuple[str, str | None]:
    """GHL's id for message `message_id` posted as `payload` (POST
    /conversations/messages/inbound), posted at most once: a post tried before (`posted_at`)
    whose answer never came or came without an id is first looked for in the conversation.
    Also returns the conversation GHL's answer names (None when the message was found)."""
    if posted_at is not None and conversation_id:
        found = await find_posted(
            client, location_id, conversation_id, payload, posted_at=posted_at
        )
        if found is not None:
            log.info(
                "message found in GHL after an unanswered post, not posted again",
                extra={**context, "ghl_message_id": found},
            )
            return found, None
    marked = await _rows.mark_posting(message_id)
    try:
        answer = await client.add_inbound_message(location_id, payload)
    except BudgetSpent:
        # Our own limiter held the post back (http.py: nothing reached GHL; a POST is repeated
        # only when GHL did not take it): the next attempt is a first post, not a look in the
        # conversation for an unanswered one, which would spend a call of the very budget
        # that ran out (catch-up benchmark: one wasted lookup per deferral).
        if posted_at is None:
            await _rows.unmark_posting(message_id, marked)
        raise
    ghl_id = answer.get("messageId")
    if not isinstance(ghl_id, str) or not ghl_id:
        # ProcessMessageResponseDto requires messageId; GHL answers 201 with an empty body
        # when it did not store the message (highlevel-api-docs issue #70).
        raise RetryableError("GHL answered without a messageId: the message was not stored")
    answered = answer.get("conversationId")
    return ghl_id, answered if isinstance(answered, str) and answered else None


async def find_posted(
    client: GhlClient,
    location_id: str,
    conversation_id: str,
    payload: dict[str, Any],
    *,
    posted_at: datetime,
) -> str | None:
    """GHL's id of the message `payload` posted at `posted_at`, when GHL holds it."""
    sent = _date(payload.get("date")) or posted_at
    floor = min(sent, posted_at) - CLOCK_SLACK
    cursor: str | None = None
    for _ in range(LOOKUP_PAGES):
        messages, cursor = await client.conversation_messages(
            location_id, conversation_id, last_message_id=cursor
        )
        for candidate in messages:
            ghl_id = str(candidate.get("id") or "")
            if not ghl_id or not _same(candidate, payload, sent=sent, posted_at=posted_at):
                continue
            if not await Message.filter(location_id=location_id, ghl_message_id=ghl_id).exists():
                return ghl_id
        dates = [d for m in messages if (d := _date(m.get("dateAdded"))) is not None]
        if cursor is None or not messages or (dates and max(dates) < floor):
            return None
    return None


def _same(
    candidate: dict[str, Any], payload: dict[str, Any], *, sent: datetime, posted_at: datetime
) -> bool:
    if candidate.get("direction") != payload.get("direction"):
        return False
    if str(candidate.get("body") or "").strip() != str(payload.get("message") or "").strip():
        return False
    ours, theirs = payload.get("conversationProviderId"), candidate.get("conversationProviderId")
    if ours and theirs and ours != theirs:
        return False
    added = _date(candidate.get("dateAdded"))
    if added is None:
        return False
    return abs(added - sent) <= SAME_DATE or added >= posted_at - CLOCK_SLACK


def _date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
