"""The manager's per-instance bookkeeping and the contract's `Instance` shape."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import Engine
from ghl_app.errors import AppError
from ghl_app.models import Instance, InstanceStatus
from ghl_app.sessions.qr import QrCode


@dataclass(frozen=True, slots=True)
class StartResult:
    instance: Instance
    qr: QrCode | None
    pairing_code: str | None


@dataclass(eq=False)
class Session:
    instance_id: uuid.UUID
    location_id: str
    status: InstanceStatus
    linked: bool = False  # the profile holds a login (connected now or before a crash)
    engine: Engine | None = None
    qr: QrCode | None = None
    pairing_code: str | None = None
    closing: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    qr_timer: asyncio.Task[None] | None = None
    recovery: asyncio.Task[None] | None = None
    # When WhatsApp's stream last went down while the browser lived (catch-up starts there).
    stream_down_at: datetime | None = None
    launches: int = 0  # engine launches of this session (the readiness watchdog's generation)
    ready_misses: int = 0  # launches that never got ready (no QR, no login) in time
    # What wa-js reported missing or outdated in this page (newest last, a few kept).
    problems: list[str] = field(default_factory=list)
    # On a worker of a scaled-out deployment (issue 17): the lease epoch this session runs
    # under, until when (monotonic) this process may act for it without a renewal, the same
    # moment on the wall clock (the page's own guard), when it was taken, and whether it was
    # lost (then nothing of it is written or saved any more).
    epoch: int | None = None
    lease_until: float = math.inf
    hold_wall: float = math.inf
    leased_at: float = 0.0
    lost: bool = False

    @property
    def log_extra(self) -> dict[str, str]:
        return {"instance_id": str(self.instance_id), "location_id": self.location_id}


@dataclass
class LockEntry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def instance_snapshot(instance: Instance) -> dict[str, Any]:
    """The contract's `Instance` shape."""
    return {
        "id": str(instance.id),
        "name": instance.name,
        "status": str(instance.status),
        "phone_number": instance.phone_number,
        "error": instance.last_error,
        "is_default": instance.is_default,
        "created_at": instance.created_at.isoformat() if instance.created_at else None,
        "updated_at": instance.updated_at.isoformat() if instance.updated_at else None,
    }


def not_found() -> AppError:
    return AppError("not_found", "No such instance.", 404)
