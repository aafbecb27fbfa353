"""Signed event webhooks (integrators' endpoints, agencies' alert URLs) and the live stream.

An event is stored once per receiver (unique on receiver + event id) with its job in one
transaction, then POSTed with `X-Signature` (signing.py); a non-2xx answer or no answer is
retried with the queue's backoff, each answer kept (truncated) on the row. Integrators'
events also go to the bus topic `events:<location>`, which the integrator WebSocket relays.

Receivers' URLs are the customer's own: they are checked when registered (http/https, a
public host) and not followed through redirects.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ghl_app.bridge.media.fetch import AttachmentFetcher, AttachmentRefused
from ghl_app.bus import EventBus
from ghl_app.crypto import TokenCipher
from ghl_app.integrations import signing
from ghl_app.jobs import JobQueue
from ghl_app.jobs.errors import RetryableError
from ghl_app.models import AgencyAlerts, EventDelivery, EventEndpoint

log = logging.getLogger(__name__)

SEND_EVENT = "signed_event"
MAX_ATTEMPTS = 10
# A receiver answers within this, and of its answer this much is kept (for the journey).
POST_DEADLINE_S = 15.0
ANSWER_BYTES = 4096
EVENT_TYPES = (
    "message.received",
    "message.status",
    "number.status",
    "number.disconnected",
    "number.recovered",
)


def event_topic(location_id: str) -> str:
    return f"events:{location_id}"


def envelope(event_type: str, data: dict[str, Any], *, location_id: str | None) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "created_at": datetime.now(UTC).isoformat(),
        "location_id": location_id,
        "data": data,
    }


class EventHub:
    def __init__(
        self,
        *,
        queue: JobQueue,
        bus: EventBus,
        cipher: TokenCipher,
        http: httpx.AsyncClient,
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        self._queue = queue
        self._bus = bus
        self._cipher = cipher
        # The URLs are user content: posted only to vetted public addresses (or hosts named in
        # WEBHOOK_ALLOWED_HOSTS), never to the app itself, the private network or the cloud
        # metadata address, and no redirect is followed (issue 14's guard, as for attachments).
        self._poster = AttachmentFetcher(
            http,
            allowed_hosts=allowed_hosts,
            max_bytes=ANSWER_BYTES,
            deadline=POST_DEADLINE_S,
            noun="webhook",
        )
        queue.register(SEND_EVENT, self._send)

    async def publish(
        self, location_id: str, event_type: str, data: dict[str, Any], *, dedupe_key: str
    ) -> None:
        """To every endpoint of the location that takes this type, and to the live stream.
        `dedupe_key` names the happening (e.g. `msg:42:delivered`): a repeat is dropped."""
        event = envelope(event_type, data, location_id=location_id)
        await self._bus.publish(event_topic(location_id), {"type": "event", "event": event})
        endpoints = await EventEndpoint.filter(location_id=location_id, active=True)
        for endpoint in endpoints:
            if endpoint.events and event_type not in endpoint.events:
                continue
            await self._store(
                event, dedupe_key, receiver=f"endpoint:{endpoint.id}", endpoint_id=endpoint.id
            )

    async def alert(
        self, company_id: str, event_type: str, data: dict[str, Any], *, dedupe_key: str
    ) -> bool:
        """To the agency's alert URL, if it set one."""
        if not await AgencyAlerts.exists(company_id=company_id):
            return False
        event = envelope(event_type, data, location_id=data.get("location_id"))
        return await self._store(
            event, dedupe_key, receiver=f"agency:{company_id}", company_id=company_id
        )

    async def _store(
        self,
        event: dict[str, Any],
        dedupe_key: str,
        *,
        receiver: str,
        endpoint_id: int | None = None,
        company_id: str | None = None,
    ) -> bool:
        try:
            async with in_transaction() as conn:
                row = await EventDelivery.create(
                    event_id=dedupe_key[:64],
                    event_type=event["type"],
                    location_id=event.get("location_id"),
                    endpoint_id=endpoint_id,
                    company_id=company_id,
                    receiver=receiver,
                    body=event,
                    using_db=conn,
                )
                await self._queue.enqueue(
                    SEND_EVENT,
                    {"delivery_id": row.id},
                    ordering_key=f"event:{receiver}",
                    location_id=event.get("location_id"),
                    max_attempts=MAX_ATTEMPTS,
                    using_db=conn,
                )
        except IntegrityError:
            return False  # this happening went to this receiver already
        self._queue.wake()
        return True

    async def _target(self, row: EventDelivery) -> tuple[str, str] | None:
        if row.endpoint_id is not None:
            endpoint = await EventEndpoint.get_or_none(id=row.endpoint_id, active=True)
            if endpoint is None:
                return None
            return endpoint.url, self._cipher.decrypt(endpoint.secret_enc)
        alerts = await AgencyAlerts.get_or_none(company_id=row.company_id)
        if alerts is None:
            return None
        return alerts.url, self._cipher.decrypt(alerts.secret_enc)

    async def _send(self, job: Any) -> None:
        row = await EventDelivery.get_or_none(id=int(job.payload["delivery_id"]))
        if row is None or row.status != "pending":
            return
        target = await self._target(row)
        if target is None:
            await EventDelivery.filter(id=row.id).update(
                status="failed", last_response="the receiver was removed"
            )
            return
        url, secret = target
        body = json.dumps(row.body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "content-type": "application/json",
            signing.HEADER: signing.sign(secret, body),
            "X-Event-Type": row.event_type,
            "X-Event-Id": str(row.body.get("id", "")),
            "X-Delivery-Attempt": str(job.attempts),
        }
        status, answer = 0, ""
        try:
            status, answer = await self._poster.post(url, content=body, headers=headers)
        except AttachmentRefused as exc:
            answer = str(exc)[:500]
        except httpx.HTTPError as exc:
            answer = f"{type(exc).__name__}: {exc}"[:500]
        fields: dict[str, Any] = {
            "attempts": job.attempts,
            "last_status": status or None,
            "last_response": answer,
        }
        if 200 <= status < 300:
            await EventDelivery.filter(id=row.id).update(
                status="delivered", delivered_at=datetime.now(UTC), **fields
            )
            log.info(
                "event %s delivered to %s",
                row.event_type,
                row.receiver,
                extra={"location_id": row.location_id, "company_id": row.company_id},
            )
            return
        last = job.attempts >= job.max_attempts
        await EventDelivery.filter(id=row.id).update(
            **({"status": "failed"} if last else {}), **fields
        )
        raise RetryableError(f"{row.receiver} answered {status or 'nothing'}: {answer[:120]}")
