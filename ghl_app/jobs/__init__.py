"""The durable job queue (the outbox): see `queue.py` for its rules."""

from __future__ import annotations

from ghl_app.jobs.errors import PermanentError, RetryableError
from ghl_app.jobs.queue import Handler, JobQueue

__all__ = ["Handler", "JobQueue", "PermanentError", "RetryableError"]
