"""WhatsApp acks become GHL message statuses: delivered, read, failed (with the error).

ghl-api.md: a status update sent seconds after the message can meet 403 "No conversation
provider found for this message": that is GHL not being ready yet, so it is retried, not taken
for a token problem."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from connectors.events import Ack
from ghl_app.bridge import receipts
from ghl_app.bridge._errors import job_error
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import GhlApiError
from ghl_app.jobs import JobQueue
from ghl_app.jobs.errors import RetryableError
from ghl_app.models import Message, MessageStatus, Origin

log = logging.getLogger(__name__)

REPORT_STATUS = "ghl_status"
_ACK_STATUS = {2: MessageStatus.DELIVERED, 3: MessageStatus.READ, 4: MessageStatus.READ}
_RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
}


async def report_status(
    queue: JobQueue,
    location_id: str,
    ghl_message_id: str,
    status: str,
    error: str | None = None,
    *,
    ordering_key: str,
) -> None:
    await queue.enqueue(
        REPORT_STATUS,
        {"ghl_message_id": ghl_message_id, "status": status, "error": error},
        ordering_key=ordering_key,
        location_id=location_id,
    )


class AckBridge:
    def __init__(self, *, queue: JobQueue, client: GhlClient) -> None:
        self._queue = queue
        self._client = client
        # (the message, its new status, an error): integrators' message.status events.
        self.status_listeners: list[
            Callable[[Message, MessageStatus, str | None], Awaitable[None]]
        ] = []
        queue.register(REPORT_STATUS, self._report)

    async def on_ack(self, instance_id: uuid.UUID, location_id: str, event: Ack) -> None:
        rows = await Message.filter(
            instance_id=instance_id,
            location_id=location_id,
            wa_message_id__in=list(event.message_ids),
            origin__in=[Origin.GHL, Origin.API],
        )
        for row in rows:
            if event.sender is not None:
                # A group participant's receipt: stored, and the message's status follows the
                # group's receipts so far (receipts.py has the rule).
                group = await receipts.record(row, event.sender, event.ack)
                if group is None:
                    continue
                new = group
            elif event.ack < 0:
                new = MessageStatus.FAILED
            elif event.ack in _ACK_STATUS:
                new = _ACK_STATUS[event.ack]
            else:
                continue
            if new != MessageStatus.FAILED and _RANK.get(new, 0) <= _RANK.get(row.status, 0):
                continue  # acks can arrive late or twice: a status never goes backwards
            await Message.filter(id=row.id).update(status=new)
            for listener in self.status_listeners:
                await listener(row, new, None)
            if row.ghl_message_id:
                await report_status(
                    self._queue,
                    location_id,
                    row.ghl_message_id,
                    new.value,
                    "WhatsApp could not deliver the message"
                    if new == MessageStatus.FAILED
                    else None,
                    ordering_key=f"status:{row.ghl_message_id}",
                )

    async def _report(self, job: Any) -> None:
        payload = job.payload
        error = payload.get("error")
        try:
            await self._client.update_message_status(
                str(job.location_id),
                payload["ghl_message_id"],
                payload["status"],
                {"code": "1", "type": "saas", "message": error} if error else None,
            )
        except GhlApiError as exc:
            if exc.status == 403 and "conversation provider" in exc.message.lower():
                raise RetryableError(str(exc), retry_after_s=5.0) from exc
            raise job_error(exc) from exc
