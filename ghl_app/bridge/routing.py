"""Which of a location's WhatsApp numbers sends a message from GHL.

GHL's Delivery URL payload names no sender number (highlevel-api-docs issue #8), so the app
decides, by these rules in order; a rule whose number is not connected is skipped for the next
one, never failed:

1. `action` (or `api`): the number chosen in the workflow action (or by the integrator) that
   sent it; an integrator's choice is binding (the send waits for that number);
2. `contact_tag`: a tag on the GHL contact naming a number (`whatsapp:<number name or phone>`,
   prefix set by WORKFLOW_ROUTING_TAG_PREFIX); read only when the location has several
   connected numbers, so a one-number location never pays the extra GHL call;
3. `last_talked`: the number that last talked to the contact;
4. `default`: the location's default number (set in the page);
5. `oldest`: the oldest connected number, so a location without a default still sends.

The rule that picked the number is stored with the message and shown in its journey.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from ghl_app import phones
from ghl_app.jobs.errors import Deferred, PermanentError, RetryableError
from ghl_app.models import Contact, Instance, InstanceStatus

# Returns the GHL contact's tags (one GHL call); only called when there is a choice to make.
TagLoader = Callable[[], Awaitable[Iterable[str]]]


@dataclass(frozen=True, slots=True)
class Route:
    instance: Instance
    rule: str

    def as_record(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "instance_id": str(self.instance.id),
            "instance_name": self.instance.name,
        }


def _variants(raw: str) -> set[str]:
    digits = "".join(ch for ch in raw if ch.isascii() and ch.isdigit())
    e164 = phones.to_e164("+" + digits) if digits else None
    # Brazil's 9th digit: a tag written with or without it names the same number.
    return set(phones.lookup_variants(e164)) if e164 else set()


def _tagged(instances: list[Instance], tags: Iterable[str], prefix: str) -> Instance | None:
    for tag in tags:
        value = tag.strip().lower()[len(prefix) :].strip()
        if not value:
            continue
        numbers = _variants(value)
        for instance in instances:
            if instance.name.strip().lower() == value:
                return instance
            if numbers and numbers & _variants(instance.phone_number or ""):
                return instance
    return None


_COMING_BACK = (InstanceStatus.DISCONNECTED, InstanceStatus.STARTING)


class Reconnecting(Deferred):
    """The number for this send is coming back: the send waits, its attempts not counted."""

    def __init__(self, message: str) -> None:
        super().__init__(message, after_s=RECONNECT_POLL_S)


RECONNECT_POLL_S = 3.0


def _has_prefix(tags: Iterable[str], prefix: str) -> list[str]:
    return [t for t in tags if isinstance(t, str) and t.strip().lower().startswith(prefix)]


async def pick_number(
    location_id: str,
    contact: Contact | None,
    *,
    chosen_instance_id: uuid.UUID | None = None,
    chosen_rule: str = "action",
    only_chosen: bool = False,
    load_tags: TagLoader | None = None,
    tag_prefix: str = "whatsapp:",
) -> Route:
    """`only_chosen`: the caller named a number and wants that one (an integrator): when it is
    not connected the send waits for it instead of going through another number."""
    connected = await Instance.filter(
        location_id=location_id, status=InstanceStatus.CONNECTED
    ).order_by("created_at")
    by_id = {instance.id: instance for instance in connected}
    if chosen_instance_id is not None and chosen_instance_id in by_id:
        return Route(by_id[chosen_instance_id], chosen_rule)
    # Numbers coming back (WhatsApp's stream down, the browser restarting): a reply waits for
    # its number rather than failing, or going out from another number than the customer knows.
    reconnecting = set(
        await Instance.filter(location_id=location_id, status__in=_COMING_BACK).values_list(
            "id", flat=True
        )
    )
    if only_chosen:
        if chosen_instance_id in reconnecting:
            raise Reconnecting("the chosen WhatsApp number is reconnecting: the send waits")
        raise RetryableError("the chosen WhatsApp number is not connected: the send waits")
    if chosen_instance_id is not None and chosen_instance_id in reconnecting:
        raise Reconnecting("the chosen WhatsApp number is reconnecting: the send waits")
    if contact is not None and contact.last_instance_id in reconnecting:
        raise Reconnecting("the number this contact talks to is reconnecting: the send waits")
    if not connected:
        if reconnecting:
            raise Reconnecting("the location's WhatsApp number is reconnecting: the send waits")
        raise PermanentError("no WhatsApp number of this location is connected")
    if len(connected) > 1 and load_tags is not None:
        tags = _has_prefix(await load_tags(), tag_prefix)
        found = _tagged(connected, tags, tag_prefix) if tags else None
        if found is not None:
            return Route(found, "contact_tag")
    if contact is not None and contact.last_instance_id in by_id:
        assert contact.last_instance_id is not None
        return Route(by_id[contact.last_instance_id], "last_talked")
    for instance in connected:
        if instance.is_default:
            return Route(instance, "default")
    return Route(connected[0], "oldest")
