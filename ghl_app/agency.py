"""The agency overview: every installed sub-account of one company, each number's state, its
last message in and out, and failed deliveries. Scoped by the agency's company id only: no
query here reads another company's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.functions import Count, Max

from ghl_app.models import Instance, InstanceStatus, Job, JobStatus, Location, Message

DOWN = (InstanceStatus.DISCONNECTED, InstanceStatus.LOGGED_OUT, InstanceStatus.FAILED)
FILTERS = ("all", "disconnected", "failed")


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


async def overview(company_id: str, only: str = "all") -> list[dict[str, Any]]:
    locations = [
        row
        for row in await Location.filter(company_id=company_id, uninstalled_at=None).order_by(
            "name"
        )
        if row.is_installed
    ]
    if not locations:
        return []
    ids = [row.location_id for row in locations]
    instances = await Instance.filter(location_id__in=ids).order_by("created_at")
    last_rows = (
        await Message.filter(location_id__in=ids)
        .annotate(at=Max("created_at"))
        .group_by("instance_id", "direction")
        .values("instance_id", "direction", "at")
    )
    last: dict[tuple[str, str], Any] = {
        (str(row["instance_id"]), str(row["direction"])): row["at"] for row in last_rows
    }
    failed_rows = (
        await Job.filter(status=JobStatus.FAILED, location_id__in=ids)
        .annotate(n=Count("id"))
        .group_by("location_id")
        .values("location_id", "n")
    )
    failed = {str(row["location_id"]): int(row["n"]) for row in failed_rows}
    by_location: dict[str, list[dict[str, Any]]] = {row.location_id: [] for row in locations}
    for instance in instances:
        iid = str(instance.id)
        by_location[instance.location_id].append(
            {
                "id": iid,
                "name": instance.name,
                "status": instance.status.value,
                "reason": instance.last_error
                if instance.status != InstanceStatus.CONNECTED
                else None,
                "phone_number": instance.phone_number,
                "last_in": _iso(last.get((iid, "inbound"))),
                "last_out": _iso(last.get((iid, "outbound"))),
            }
        )
    result = []
    for location in locations:
        numbers = by_location[location.location_id]
        entry = {
            "id": location.location_id,
            "name": location.name,
            "needs_reinstall": location.needs_reinstall,
            "numbers": numbers,
            "failed_deliveries": failed.get(location.location_id, 0),
            "disconnected": sum(1 for n in numbers if n["status"] in {s.value for s in DOWN}),
        }
        if only == "disconnected" and not entry["disconnected"]:
            continue
        if only == "failed" and not entry["failed_deliveries"]:
            continue
        result.append(entry)
    return result
