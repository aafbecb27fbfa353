"""Our marketplace workflow triggers: GHL subscribes workflows to them, we fire events at them.

Facts (docs/ghl-workflows.md; CustomTriggers doc and GHL's marketplace CLI):
- GHL POSTs to our Subscription URL `{"triggerData": {"id", "key", "filters", "eventType":
  CREATED|UPDATED|DELETED, "targetUrl"}, "meta", "extras": {"locationId", "workflowId"}}` when
  a workflow using the trigger is created, updated or deleted; the headers are the developer's
  own (no signature), so we check our token as for the action.
- To start the workflow the app POSTs its event to that exact `targetUrl`; it stops after
  DELETED. GHL answered 401 to unauthenticated fires (practice, ScaleSafe's changelog), so we
  send the location's token; a targetUrl outside GHL's API host is refused (no request to
  anywhere else on the strength of a subscription).
- Filters: GHL hands the workflow's filters over on subscription. Filters with an operator we
  know (==, !=, contains) on a top-level field of the event are applied before firing; any
  other filter is left to GHL (whether GHL filters too is UNCONFIRMED).

Each fire is a row unique on (subscription, event key) and a job in one transaction: retried
by the queue, never lost once recorded, never sent twice for one event.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ghl_app.bridge._errors import job_error
from ghl_app.errors import AppError
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import GhlApiError
from ghl_app.jobs import JobQueue
from ghl_app.jobs.errors import PermanentError
from ghl_app.models import (
    Contact,
    Instance,
    InstanceStatus,
    Origin,
    TriggerFire,
    TriggerSubscription,
)

log = logging.getLogger(__name__)

MESSAGE_RECEIVED = "whatsapp_message_received"
NUMBER_DISCONNECTED = "whatsapp_number_disconnected"
NUMBER_CONNECTED = "whatsapp_number_connected"
TRIGGER_KEYS = (MESSAGE_RECEIVED, NUMBER_DISCONNECTED, NUMBER_CONNECTED)
FIRE_TRIGGER = "workflow_trigger"
_EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")
_DOWN = (InstanceStatus.DISCONNECTED, InstanceStatus.LOGGED_OUT, InstanceStatus.FAILED)


def _str(value: Any, name: str, *, limit: int = 128) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AppError("missing_field", f"{name} is missing.", 400)
    if len(value) > limit:
        raise AppError("bad_field", f"{name} is too long.", 400)
    return value.strip()


def _matches(event: dict[str, Any], filters: list[Any]) -> bool:
    for item in filters:
        if not isinstance(item, dict):
            continue
        field, operator, value = item.get("field"), item.get("operator"), item.get("value")
        if not isinstance(field, str) or field not in event or value in (None, ""):
            continue
        actual = str(event[field]).lower()
        wanted = str(value).lower()
        if operator == "==" and actual != wanted:
            return False
        if operator == "!=" and actual == wanted:
            return False
        if operator == "contains" and wanted not in actual:
            return False
    return True


class WorkflowTriggers:
    def __init__(self, *, queue: JobQueue, client: GhlClient, ghl_api_url: str) -> None:
        self._queue = queue
        self._client = client
        self._api_base = ghl_api_url.rstrip("/")
        self._down: set[uuid.UUID] = set()
        queue.register(FIRE_TRIGGER, self._fire)

    def _path(self, target_url: str) -> str:
        """targetUrl as a path under GHL_API_URL, or refused."""
        base, target = urlsplit(self._api_base), urlsplit(target_url)
        if (
            target.scheme != base.scheme
            or target.netloc.lower() != base.netloc.lower()
            or not target.path.startswith(base.path.rstrip("/") + "/")
        ):
            raise AppError("bad_target_url", "targetUrl is not on GHL's API host.", 400)
        path = target.path[len(base.path.rstrip("/")) :]
        return f"{path}?{target.query}" if target.query else path

    async def subscribe(self, payload: Any) -> TriggerSubscription | None:
        if not isinstance(payload, dict):
            raise AppError("malformed_json", "The body is not a JSON object.", 400)
        data, extras = payload.get("triggerData"), payload.get("extras")
        if not isinstance(data, dict) or not isinstance(extras, dict):
            raise AppError("bad_payload", "The body needs triggerData and extras objects.", 400)
        trigger_id = _str(data.get("id"), "triggerData.id")
        key = _str(data.get("key"), "triggerData.key", limit=64)
        event_type = _str(data.get("eventType"), "triggerData.eventType", limit=16).upper()
        location_id = _str(extras.get("locationId"), "extras.locationId", limit=64)
        if key not in TRIGGER_KEYS:
            raise AppError("unknown_trigger", f"{key!r} is not a trigger of this app.", 400)
        if event_type not in _EVENT_TYPES:
            raise AppError("bad_event_type", "eventType is CREATED, UPDATED or DELETED.", 400)
        extra = {"location_id": location_id}
        existing = await TriggerSubscription.get_or_none(trigger_id=trigger_id)
        if existing is not None and existing.location_id != location_id:
            raise AppError("not_found", "No such trigger subscription.", 404)
        if event_type == "DELETED":
            if existing is not None:
                await TriggerSubscription.filter(id=existing.id).update(active=False)
            log.info("workflow trigger unsubscribed (%s)", key, extra=extra)
            return None
        target_url = _str(data.get("targetUrl"), "triggerData.targetUrl", limit=2048)
        self._path(target_url)
        filters = data.get("filters") if isinstance(data.get("filters"), list) else []
        workflow_id = (
            extras.get("workflowId") if isinstance(extras.get("workflowId"), str) else None
        )
        fields: dict[str, Any] = {
            "location_id": location_id,
            "trigger_key": key,
            "workflow_id": workflow_id,
            "target_url": target_url,
            "filters": filters,
            "active": True,
        }
        if existing is None:
            try:
                existing = await TriggerSubscription.create(trigger_id=trigger_id, **fields)
            except IntegrityError:  # the same subscription raced in twice
                existing = await TriggerSubscription.get(trigger_id=trigger_id)
        else:
            await TriggerSubscription.filter(id=existing.id).update(**fields)
        log.info("workflow trigger subscribed (%s, %s)", key, event_type.lower(), extra=extra)
        return existing

    async def fire(self, location_id: str, key: str, event_key: str, event: dict[str, Any]) -> int:
        """Record and queue the event for every active subscription; returns how many."""
        subscriptions = await TriggerSubscription.filter(
            location_id=location_id, trigger_key=key, active=True
        )
        queued = 0
        for subscription in subscriptions:
            if not _matches(event, subscription.filters or []):
                continue
            try:
                async with in_transaction() as conn:
                    fire = await TriggerFire.create(
                        subscription_id=subscription.id, event_key=event_key, using_db=conn
                    )
                    await self._queue.enqueue(
                        FIRE_TRIGGER,
                        {"fire_id": fire.id, "event": event},
                        ordering_key=f"trigger:{subscription.id}",
                        location_id=location_id,
                        using_db=conn,
                    )
            except IntegrityError:
                continue  # this event went to this workflow already
            queued += 1
        if queued:
            self._queue.wake()
            log.info(
                "workflow trigger %s queued for %d workflow(s)",
                key,
                queued,
                extra={"location_id": location_id},
            )
        return queued

    # -- the app's events ----------------------------------------------------------------------

    async def on_message_synced(self, message: Any, ghl_contact_id: str) -> None:
        """ "WhatsApp message received": a contact's message, once it is in GHL (so the
        workflow's contact exists). `message` is the bridge's synced row."""
        if message.origin != Origin.WHATSAPP or message.instance_id is None:
            return
        instance = await Instance.get_or_none(id=message.instance_id)
        contact = await Contact.get_or_none(id=message.contact_id, location_id=message.location_id)
        if instance is None:
            return
        media = message.media or {}
        event = {
            "event": "message_received",
            "contactId": ghl_contact_id,
            "message": message.body or "",
            "messageType": media.get("type") or "text",
            "numberId": str(instance.id),
            "numberName": instance.name,
            "numberPhone": instance.phone_number or "",
            "contactName": (contact.name if contact else None) or "",
            "contactPhone": (contact.phone_e164 if contact else None) or "",
            "isGroup": bool(contact.is_group) if contact else False,
            "receivedAt": (message.sent_at or datetime.now(UTC)).isoformat(),
        }
        await self.fire(message.location_id, MESSAGE_RECEIVED, f"msg:{message.id}", event)

    async def on_status(self, instance: Instance, previous: InstanceStatus) -> None:
        """ "Number disconnected" when a connected number goes down; "connected again" when a
        number that was down comes back."""
        now = datetime.now(UTC)
        number = {
            "numberId": str(instance.id),
            "numberName": instance.name,
            "numberPhone": instance.phone_number or "",
        }
        stamp = (instance.updated_at or now).isoformat()
        if previous == InstanceStatus.CONNECTED and instance.status in _DOWN:
            self._down.add(instance.id)
            event = {
                "event": "number_disconnected",
                **number,
                "status": instance.status.value,
                "reason": instance.last_error or instance.status.value,
                "at": now.isoformat(),
            }
            key = f"down:{instance.id}:{stamp}"
            await self.fire(instance.location_id, NUMBER_DISCONNECTED, key, event)
        elif instance.status == InstanceStatus.CONNECTED and (
            previous in _DOWN or instance.id in self._down
        ):
            # Back after a disconnect: restored, or linked again by a new scan (then the
            # status before was the QR). Which numbers are down is kept in memory: after an
            # app restart a number coming back fires only if its row still said it was down.
            self._down.discard(instance.id)
            event = {"event": "number_connected", **number, "at": now.isoformat()}
            key = f"up:{instance.id}:{stamp}"
            await self.fire(instance.location_id, NUMBER_CONNECTED, key, event)

    async def _fire(self, job: Any) -> None:
        fire = await TriggerFire.get_or_none(id=int(job.payload["fire_id"]))
        if fire is None or fire.fired_at is not None:
            return
        subscription = await TriggerSubscription.get_or_none(
            id=fire.subscription_id, location_id=job.location_id
        )
        if subscription is None or not subscription.active:
            return  # the workflow was deleted meanwhile: GHL said to stop sending
        try:
            path = self._path(subscription.target_url)
        except AppError as exc:
            raise PermanentError(exc.message) from exc
        try:
            await self._client.fire_trigger(str(job.location_id), path, job.payload["event"])
        except GhlApiError as exc:
            if exc.status in (400, 404, 410) and "inactive" in exc.message.lower():
                # "trigger with id: … inactive" (seen in practice): a stale subscription.
                await TriggerSubscription.filter(id=subscription.id).update(active=False)
                return
            raise job_error(exc) from exc
        await TriggerFire.filter(id=fire.id).update(fired_at=datetime.now(UTC))
        log.info(
            "workflow trigger fired (%s)",
            subscription.trigger_key,
            extra={"location_id": subscription.location_id},
        )
