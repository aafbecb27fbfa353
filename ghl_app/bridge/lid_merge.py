"""A LID chat merged onto the phone's own chat once WhatsApp tells the LID's phone.

WhatsApp moves contacts to LIDs (`<n>@lid`): the same person can have a phone chat
(`<digits>@c.us`) we stored before, and a LID chat whose phone WhatsApp gives only later, often
(WAHA #1816: 85 of 96 LIDs resolved later; wa-js contact/functions/getPnLidEntry.ts). Until
then they are two local rows; both reach the same GHL contact (found by phone), but the chat's
history here is split. When the phone becomes known, the LID row's messages move to the phone's
row, which keeps the LID (`contacts.lid`) so later LID messages find it, and the LID row goes.
Everything is scoped by the location: a phone row of another sub-account is never touched.
"""

from __future__ import annotations

import logging

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from ghl_app.models import Contact, Message

log = logging.getLogger(__name__)


async def merge_onto_phone(location_id: str, lid_row_id: int, lid: str, phone: str) -> int | None:
    """Merge the LID chat's row onto the row of the phone's own chat, if this location has one
    not linked to another LID; the surviving row's id, or None when there is nothing to merge."""
    digits = phone.lstrip("+")
    target = (
        await Contact.filter(location_id=location_id, is_group=False, lid__isnull=True)
        .filter(Q(chat_id=f"{digits}@c.us") | Q(phone_e164=phone))
        .exclude(id=lid_row_id)
        .order_by("id")
        .first()
    )
    if target is None:
        return None
    lid_row = await Contact.get_or_none(id=lid_row_id, location_id=location_id)
    if lid_row is None:
        return None
    fields: dict[str, object] = {"lid": lid}
    if not target.ghl_contact_id and lid_row.ghl_contact_id:
        fields["ghl_contact_id"] = lid_row.ghl_contact_id
        fields["ghl_conversation_id"] = lid_row.ghl_conversation_id
    if not target.name and lid_row.name:
        fields["name"] = lid_row.name
    if lid_row.dnd:
        fields["dnd"] = True  # GHL's Do Not Disturb on either holds for the person
    async with in_transaction() as conn:
        moved = (
            await Message.filter(location_id=location_id, contact_id=lid_row_id)
            .using_db(conn)
            .update(contact_id=target.id)
        )
        await Contact.filter(id=lid_row_id, location_id=location_id).using_db(conn).delete()
        await Contact.filter(id=target.id, location_id=location_id).using_db(conn).update(**fields)
    log.info(
        "lid chat merged onto the phone's chat (%d message(s) moved)",
        moved,
        extra={"location_id": location_id, "contact_id": target.id},
    )
    return int(target.id)
