"""Group receipts, one per participant, and the one status GHL gets for a group message.

wa-js fires `chat.msg_ack_change` once per receipt; in a group each participant's receipt is
its own event naming that participant as `sender` (chat/events/registerAckMessageEvent.ts,
`processSimpleACK`: `sender = ackData.participant`). Taking the first "read" as the message's
status tells the CRM everyone read it when one person did (wa-js audit, finding 13).

The rule chosen here, as WhatsApp's own ticks show it on the phone:
- delivered once the first participant's phone got it (delivered or read);
- read only once every member known at the send has read it. The members are the group's
  participants as the page listed them at the send (`WPP.group.getParticipants`). They are
  counted, not matched by id: a participant may be listed by phone number and send receipts
  under its LID (groups moving to LID addressing), so "as many distinct readers as members" is
  the test that holds either way. A group whose members the page could not list never turns
  read (we cannot tell that everyone read it); it stays delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from ghl_app.models import Message, MessageReceipt, MessageStatus

log = logging.getLogger(__name__)

_DELIVERED = 2
_READ = 3  # 4 (played) is read too


async def expect(message: Message, participants: Iterable[str]) -> None:
    """Remember who a group message went to (at the send), once."""
    for participant in dict.fromkeys(participants):
        try:
            await MessageReceipt.create(
                message_id=message.id,
                location_id=message.location_id,
                participant=participant[:128],
                expected=True,
            )
        except IntegrityError:
            continue  # a retried send: its members are known already


async def record(message: Message, participant: str, ack: int) -> MessageStatus | None:
    """Store one participant's receipt; the message's status by the rule above, or None while
    nobody got it yet."""
    participant = participant[:128]
    if ack >= _DELIVERED:
        now = datetime.now(UTC)
        receipt = await MessageReceipt.get_or_none(
            message_id=message.id, location_id=message.location_id, participant=participant
        )
        if receipt is None:
            try:
                receipt = await MessageReceipt.create(
                    message_id=message.id, location_id=message.location_id, participant=participant
                )
            except IntegrityError:
                receipt = await MessageReceipt.get(
                    message_id=message.id, location_id=message.location_id, participant=participant
                )
        changes: dict[str, datetime] = {}
        if receipt.delivered_at is None:
            changes["delivered_at"] = now  # a read receipt also says it was delivered
        if ack >= _READ and receipt.read_at is None:
            changes["read_at"] = now
        if changes:
            await MessageReceipt.filter(id=receipt.id).update(**changes)
    return await group_status(message)


async def group_status(message: Message) -> MessageStatus | None:
    receipts = await MessageReceipt.filter(message_id=message.id, location_id=message.location_id)
    if not any(r.delivered_at is not None for r in receipts):
        return None
    members = sum(1 for r in receipts if r.expected)
    readers = sum(1 for r in receipts if r.read_at is not None)
    if members and readers >= members:
        return MessageStatus.READ
    return MessageStatus.DELIVERED


async def receipts_of(
    location_id: str, message_ids: list[int]
) -> dict[int, list[dict[str, object]]]:
    """For the journey: each message's participants, and when each got and read it."""
    found: dict[int, list[dict[str, object]]] = {}
    if not message_ids:
        return found
    rows = await MessageReceipt.filter(
        location_id=location_id, message_id__in=message_ids
    ).order_by("id")
    for row in rows:
        found.setdefault(row.message_id, []).append(
            {
                "participant": row.participant,
                "expected": row.expected,
                "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
                "read_at": row.read_at.isoformat() if row.read_at else None,
            }
        )
    return found
