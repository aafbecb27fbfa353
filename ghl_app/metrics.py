"""Prometheus metrics for operators (`GET /metrics`, token-protected in web/metrics.py).

Counters move as work happens (the job queue and the GHL transport tell their observers);
gauges that describe state (sessions, queue depth, memory) are read when Prometheus scrapes,
so they are right whichever process changed the state. Each app has its own registry: tests
run several apps in one process.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from ghl_app.db import connection
from ghl_app.models import InstanceStatus

if TYPE_CHECKING:
    from ghl_app.services import Services

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# A message's journey is its job's: a sync job done is a message in GHL, a send job done is a
# message on WhatsApp; parked ("failed") is a message that did not make it.
_MESSAGE_JOBS = {"wa_to_ghl": "inbound", "ghl_to_wa": "outbound"}


def _status_class(status: int) -> str:
    if status == 0:
        return "no_answer"
    if status == 429:
        return "429"
    return f"{status // 100}xx"


def _pss_bytes(pid: int) -> int:
    """Proportional set size of one process (shared pages split between their users), else
    its resident size; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * 4096


class AppMetrics:
    def __init__(self, services: Services) -> None:
        self._services = services
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.jobs = Counter(
            "ghl_whatsapp_jobs",
            "Job runs by kind and outcome",
            ["kind", "outcome"],
            registry=registry,
        )
        self.messages = Counter(
            "ghl_whatsapp_messages",
            "Messages through the bridge by direction and result (delivered to the other side,"
            " or failed after the last attempt)",
            ["direction", "result"],
            registry=registry,
        )
        self.ghl_requests = Counter(
            "ghl_whatsapp_ghl_requests",
            "GHL API answers by status class",
            ["status"],
            registry=registry,
        )
        self.ghl_remaining = Gauge(
            "ghl_whatsapp_ghl_ratelimit_remaining",
            "GHL's last reported remaining requests (burst window, and daily)",
            ["window"],
            registry=registry,
        )
        self.sessions = Gauge(
            "ghl_whatsapp_instances", "WhatsApp numbers by status", ["status"], registry=registry
        )
        self.engines = Gauge(
            "ghl_whatsapp_engines_running",
            "WhatsApp engines this process runs",
            registry=registry,
        )
        self.engine_capacity = Gauge(
            "ghl_whatsapp_engines_max", "MAX_SESSIONS of this process", registry=registry
        )
        self.queue_depth = Gauge(
            "ghl_whatsapp_jobs_queued",
            "Jobs waiting to run, by kind",
            ["kind"],
            registry=registry,
        )
        self.queue_age = Gauge(
            "ghl_whatsapp_jobs_oldest_age_seconds",
            "Age of the oldest job waiting to run, by kind",
            ["kind"],
            registry=registry,
        )
        self.parked = Gauge(
            "ghl_whatsapp_jobs_failed",
            "Jobs parked as failed (retryable from the page)",
            ["kind"],
            registry=registry,
        )
        self.memory = Gauge(
            "ghl_whatsapp_engine_memory_bytes",
            "Memory (PSS) of each running engine's browser processes",
            ["instance_id"],
            registry=registry,
        )
        self.caught_up = Counter(
            "ghl_whatsapp_catch_up_messages",
            "Messages read back from WhatsApp Web by catch-up after a restart or an outage (the"
            " store keeps the ones it did not have)",
            registry=registry,
        )
        self.catching_up = Gauge(
            "ghl_whatsapp_catch_up_running",
            "Numbers reading back what reached WhatsApp while we did not listen",
            registry=registry,
        )
        services.sessions.catch_up_observers.append(self.caught_up.inc)
        services.jobs.observers.append(self._on_job)
        services.ghl_integration.http.observers.append(self._on_ghl)

    def _on_job(self, kind: str, outcome: str) -> None:
        self.jobs.labels(kind, outcome).inc()
        direction = _MESSAGE_JOBS.get(kind)
        if direction is not None and outcome in ("done", "failed"):
            self.messages.labels(direction, "ok" if outcome == "done" else "failed").inc()

    def _on_ghl(self, status: int, headers: httpx.Headers | None) -> None:
        self.ghl_requests.labels(_status_class(status)).inc()
        if headers is None:
            return
        for header, window in (
            ("X-RateLimit-Remaining", "burst"),
            ("X-RateLimit-Daily-Remaining", "daily"),
        ):
            value = headers.get(header)
            if value is not None and value.isascii() and value.isdigit():
                self.ghl_remaining.labels(window).set(int(value))

    async def render(self) -> bytes:
        await self._refresh()
        return generate_latest(self.registry)

    async def _refresh(self) -> None:
        db = connection()
        _, rows = await db.execute_query(
            "SELECT status, COUNT(*) AS n FROM instances GROUP BY status"
        )
        counts = {str(row["status"]): int(row["n"]) for row in rows}
        for status in InstanceStatus:
            self.sessions.labels(status.value).set(counts.get(status.value, 0))
        now = datetime.now(UTC)
        _, rows = await db.execute_query(
            "SELECT kind, status, COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs "
            "WHERE status IN ('queued', 'running', 'failed') GROUP BY kind, status"
        )
        self.queue_depth.clear()
        self.queue_age.clear()
        self.parked.clear()
        waiting: dict[str, tuple[int, datetime | None]] = {}
        for row in rows:
            kind, n = str(row["kind"]), int(row["n"])
            if row["status"] == "failed":
                self.parked.labels(kind).set(n)
                continue
            oldest = _as_datetime(row["oldest"])
            count, first = waiting.get(kind, (0, None))
            waiting[kind] = (count + n, min(filter(None, (first, oldest)), default=None))
        for kind, (n, oldest) in waiting.items():
            self.queue_depth.labels(kind).set(n)
            self.queue_age.labels(kind).set((now - oldest).total_seconds() if oldest else 0.0)
        sessions = self._services.sessions
        counts = sessions.session_counts()
        self.engines.set(counts.get("running", 0))
        self.catching_up.set(len(sessions.catching_up))
        self.engine_capacity.set(counts.get("max", 0))
        per_instance = sessions.engine_pids_by_instance()
        sizes = await asyncio.to_thread(
            lambda: {
                iid: sum(_pss_bytes(pid) for pid in pids) for iid, pids in per_instance.items()
            }
        )
        self.memory.clear()
        for instance_id, size in sizes.items():
            self.memory.labels(instance_id).set(size)


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
