"""Agencies' disconnect alerts, and integrators' number events.

A number that goes down (disconnected, logged out, failed) opens an incident; if it is not
back within the agency's grace period, the agency's alert URL gets one signed
`number.disconnected`, and when it comes back one `number.recovered`. Flapping inside an
incident sends nothing more: one alert per number per incident. The grace is a job scheduled
at the incident's start, so it survives a restart.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ghl_app.integrations.events import EventHub
from ghl_app.jobs import JobQueue
from ghl_app.models import AgencyAlerts, Incident, Instance, InstanceStatus, Location

log = logging.getLogger(__name__)

ALERT_AFTER_GRACE = "disconnect_alert"
_DOWN = (InstanceStatus.DISCONNECTED, InstanceStatus.LOGGED_OUT, InstanceStatus.FAILED)


def number_view(instance: Instance) -> dict[str, Any]:
    return {
        "number_id": str(instance.id),
        "name": instance.name,
        "phone_number": instance.phone_number,
        "status": instance.status.value,
        "reason": instance.last_error,
        "location_id": instance.location_id,
    }


class DisconnectAlerts:
    def __init__(self, *, queue: JobQueue, hub: EventHub, default_grace_s: int) -> None:
        self._queue = queue
        self._hub = hub
        self._default_grace_s = default_grace_s
        queue.register(ALERT_AFTER_GRACE, self._after_grace)

    async def on_status(self, instance: Instance, previous: InstanceStatus) -> None:
        changed = instance.updated_at.isoformat() if instance.updated_at else ""
        await self._hub.publish(
            instance.location_id,
            "number.status",
            {**number_view(instance), "previous_status": previous.value},
            dedupe_key=f"status:{instance.id}:{changed}:{instance.status.value}",
        )
        if instance.status in _DOWN and instance.phone_number:
            await self._open(instance)
        elif instance.status == InstanceStatus.CONNECTED:
            await self._close(instance)

    async def _company(self, location_id: str) -> str | None:
        location = await Location.get_or_none(location_id=location_id)
        return location.company_id if location is not None else None

    async def _open(self, instance: Instance) -> None:
        if await Incident.exists(instance_id=instance.id, recovered_at=None):
            return  # still the same incident
        now = datetime.now(UTC)
        incident = await Incident.create(
            instance_id=instance.id,
            location_id=instance.location_id,
            status=instance.status.value,
            reason=instance.last_error,
            started_at=now,
        )
        company = await self._company(instance.location_id)
        settings = await AgencyAlerts.get_or_none(company_id=company) if company else None
        grace = settings.grace_seconds if settings is not None else self._default_grace_s
        await self._queue.enqueue(
            ALERT_AFTER_GRACE,
            {"incident_id": incident.id},
            ordering_key=f"incident:{instance.id}",
            location_id=instance.location_id,
            run_after=now + timedelta(seconds=grace),
        )
        log.info(
            "incident opened (%s), alert after %ds",
            instance.status.value,
            grace,
            extra={"instance_id": str(instance.id), "location_id": instance.location_id},
        )

    async def _close(self, instance: Instance) -> None:
        incident = await Incident.filter(instance_id=instance.id, recovered_at=None).first()
        if incident is None:
            return
        now = datetime.now(UTC)
        await Incident.filter(id=incident.id).update(recovered_at=now)
        if incident.alerted_at is None:
            return  # back within the grace: nobody was told, nothing to take back
        company = await self._company(instance.location_id)
        if company:
            data = {
                **number_view(instance),
                "incident_id": incident.id,
                "down_since": incident.started_at.isoformat(),
                "down_seconds": int((now - incident.started_at).total_seconds()),
            }
            await self._hub.alert(
                company, "number.recovered", data, dedupe_key=f"recovered:{incident.id}"
            )
        log.info(
            "incident closed",
            extra={"instance_id": str(instance.id), "location_id": instance.location_id},
        )

    async def _after_grace(self, job: Any) -> None:
        incident = await Incident.get_or_none(id=int(job.payload["incident_id"]))
        if incident is None or incident.recovered_at is not None or incident.alerted_at:
            return
        instance = await Instance.get_or_none(id=incident.instance_id)
        if instance is None:
            return
        company = await self._company(instance.location_id)
        if company:
            data = {
                **number_view(instance),
                "incident_id": incident.id,
                "down_since": incident.started_at.isoformat(),
            }
            await self._hub.alert(
                company, "number.disconnected", data, dedupe_key=f"incident:{incident.id}"
            )
        await Incident.filter(id=incident.id).update(alerted_at=datetime.now(UTC))
        log.warning(
            "number still down after the grace period: agency alerted",
            extra={"instance_id": str(instance.id), "location_id": instance.location_id},
        )
