"""Finding the GHL contact and conversation for a WhatsApp chat, without ever creating two.

whatsapp-web.md: phones come from WhatsApp itself (a `@c.us` id, or the phone WhatsApp gives for
a `@lid` chat), never from digits parsed out of a LID; a Brazilian contact stored in GHL with the
9th digit must be found from the 8-digit WhatsApp id, so every variant is searched first.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from ghl_app import db, phones
from ghl_app.bridge import lid_merge
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import GhlApiError
from ghl_app.jobs.errors import PermanentError
from ghl_app.models import Contact

log = logging.getLogger(__name__)

# Every contact a WhatsApp chat maps to carries it (agencies filter and automate on it).
WHATSAPP_TAG = "whatsapp"


def _tags(contact: dict[str, Any] | None) -> list[str]:
    tags = (contact or {}).get("tags")
    return [t.lower() for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def is_not_found(exc: GhlApiError) -> bool:
    """GHL no longer has the contact or conversation a call named (deleted in GHL). GHL's exact
    answer is not documented: a 404, or a 400/422 whose message says so."""
    if exc.status == 404:
        return True
    text = exc.message.lower()
    return exc.status in (400, 422) and ("not found" in text or "does not exist" in text)


async def forget_ghl_ids(contact_id: int, location_id: str) -> None:
    """Drop a chat's cached GHL contact and conversation ids: they are found (or created) again."""
    await Contact.filter(id=contact_id, location_id=location_id).update(
        ghl_contact_id=None, ghl_conversation_id=None
    )


@dataclass(frozen=True, slots=True)
class LocalContact:
    id: int
    # A group whose GHL contact carries a name that is no longer its subject.
    renamed_in_ghl: bool = False
    # A chat (a LID's) whose phone WhatsApp gave only now: its earlier messages can go to GHL.
    phone_learned: bool = False


def contact_phone(chat_id: str, sender_phone: str | None) -> str | None:
    """The E.164 phone of a one-to-one chat, or None when WhatsApp did not give one."""
    if phones.is_lid(chat_id):
        return phones.to_e164(sender_phone) if sender_phone else None
    user = phones.wa_user_from_wid(chat_id)
    return phones.to_e164("+" + user) if user else None


async def local_contact(
    location_id: str,
    chat_id: str,
    *,
    sender_phone: str | None,
    name: str | None,
    is_group: bool,
    instance_id: uuid.UUID,
) -> LocalContact:
    """The location's row for this chat, created on first sight; remembers the instance.

    A person's name is kept once known (WhatsApp's push name changes at the person's whim); a
    group's name is its subject, so it follows each rename, in GHL too once the group has its
    GHL contact (`renamed_in_ghl`: the caller queues the rename there).
    """
    lid_chat = phones.is_lid(chat_id)
    # A LID chat merged onto its phone's chat is found through the phone row's `lid`.
    rows = await db.fetch(
        "SELECT id, chat_id, last_instance_id, phone_e164, name, is_group, ghl_contact_id"
        " FROM contacts WHERE location_id = ? AND (chat_id = ? OR lid = ?)",
        [location_id, chat_id, chat_id if lid_chat else ""],
    )
    rows.sort(key=lambda r: r["chat_id"] != chat_id)  # the chat's own row first
    # Parsing the phone costs more than the lookup: only for a new row or one without a phone.
    known_phone = bool(rows and (rows[0]["phone_e164"] or rows[0]["is_group"]))
    phone = None if is_group or known_phone else contact_phone(chat_id, sender_phone)
    if rows:
        row = rows[0]
    else:
        contact, _ = await Contact.get_or_create(
            location_id=location_id,
            chat_id=chat_id,
            defaults={
                "phone_e164": phone,
                "lid": chat_id if phones.is_lid(chat_id) else None,
                "name": name,
                "is_group": is_group,
            },
        )
        row = {
            "id": contact.id,
            "last_instance_id": contact.last_instance_id,
            "phone_e164": contact.phone_e164,
            "name": contact.name,
            "is_group": contact.is_group,
            "ghl_contact_id": contact.ghl_contact_id,
        }
    changed: dict[str, object] = {}
    last_instance = row["last_instance_id"]
    if last_instance is None or uuid.UUID(str(last_instance)) != instance_id:
        changed["last_instance_id"] = instance_id
    if phone and not row["phone_e164"]:
        changed["phone_e164"] = phone
    if name and (not row["name"] or (bool(row["is_group"]) and name != row["name"])):
        changed["name"] = name
    renamed = False
    if changed:
        await Contact.filter(id=row["id"], location_id=location_id).update(**changed)
        if row["is_group"] and "name" in changed:
            renamed = bool(row["ghl_contact_id"])
            log.info(
                "group named after its subject",
                extra={"instance_id": str(instance_id), "location_id": location_id},
            )
    learned = "phone_e164" in changed
    if lid_chat and row.get("chat_id", chat_id) == chat_id and (learned or (not rows and phone)):
        # The LID's phone is known now: one local chat with the phone's own (lid_merge.py).
        merged = await lid_merge.merge_onto_phone(
            location_id, int(row["id"]), chat_id, str(changed.get("phone_e164") or phone)
        )
        if merged is not None:
            return LocalContact(id=merged, renamed_in_ghl=False, phone_learned=learned)
    return LocalContact(id=int(row["id"]), renamed_in_ghl=renamed, phone_learned=learned)


async def ensure_ghl_contact(client: GhlClient, contact: Contact) -> tuple[str, bool]:
    """The GHL contact id, found by every phone variant before one is created; and whether it
    was created now (then it has no conversation)."""
    if contact.ghl_contact_id:
        return contact.ghl_contact_id, False
    location_id = contact.location_id
    created = False
    if contact.is_group:
        # A group is one GHL contact named after the group (its subject, when WhatsApp Web has
        # loaded it). It has no phone of its own, so it is created, not upserted: an upsert
        # matches on phone or email, and with neither could not find it again (or could merge
        # every group into one contact).
        found = await client.create_contact(
            location_id, name=contact.name or "WhatsApp group", tags=["whatsapp-group"]
        )
        created = True
    else:
        if not contact.phone_e164:
            raise PermanentError(
                "WhatsApp gave no phone number for this chat (a private LID): it cannot be "
                "matched to a GHL contact"
            )
        found = None
        for variant in phones.lookup_variants(contact.phone_e164):
            found = await client.find_contact_by_phone(location_id, variant)
            if found:
                break
        if found is None:
            # No spelling of the phone is in GHL: created with its tag, and with no conversation
            # yet (ensure_conversation creates one without searching).
            try:
                found = await client.create_contact(
                    location_id, name=contact.name, phone=contact.phone_e164, tags=[WHATSAPP_TAG]
                )
                created = True
            except GhlApiError as exc:
                if exc.status != 400:
                    raise
                # The location's duplicate rules matched a contact the searches did not (GHL
                # answers 400 "does not allow duplicated contacts"): the upsert finds it.
                found = await client.upsert_contact(
                    location_id, phone=contact.phone_e164, name=contact.name
                )
    contact_id = str((found or {}).get("id") or "")
    if not contact_id:
        raise PermanentError("GHL answered the contact lookup without an id")
    if not contact.is_group and not created and WHATSAPP_TAG not in _tags(found):
        # Added, never set: an upsert's tags would replace the contact's own (apps/contacts.json).
        await client.add_tags(location_id, contact_id, [WHATSAPP_TAG])
    contact.ghl_contact_id = contact_id
    await Contact.filter(id=contact.id, location_id=location_id).update(ghl_contact_id=contact_id)
    log.info("contact mapped", extra={"location_id": location_id})
    return contact_id, created


async def ensure_conversation(client: GhlClient, contact: Contact) -> str:
    if contact.ghl_conversation_id:
        return contact.ghl_conversation_id
    contact_id, created = await ensure_ghl_contact(client, contact)
    location_id = contact.location_id
    # A contact created a moment ago has no conversation: one call fewer ("one conversationId
    # is maintained per contact", ConversationProviders.md).
    conversation = None if created else await client.search_conversation(location_id, contact_id)
    if conversation is None:
        conversation = await client.create_conversation(location_id, contact_id)
    conversation_id = str(conversation.get("id") or "")
    if not conversation_id:
        raise PermanentError("GHL answered the conversation lookup without an id")
    contact.ghl_conversation_id = conversation_id
    await Contact.filter(id=contact.id, location_id=location_id).update(
        ghl_conversation_id=conversation_id
    )
    return conversation_id
