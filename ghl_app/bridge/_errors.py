"""What a failed GHL call means to the job queue, in one place for every bridge job."""

from __future__ import annotations

from ghl_app.ghl.http import BudgetSpent, GhlApiError
from ghl_app.jobs.errors import Deferred, PermanentError, RetryableError


def job_error(exc: GhlApiError) -> Exception:
    """Deferred (our own budget is spent: not an attempt), retried, or parked for good."""
    if isinstance(exc, BudgetSpent):
        return Deferred(str(exc), after_s=exc.retry_after or 1.0)
    if exc.retryable:
        return RetryableError(str(exc), retry_after_s=exc.retry_after)
    return PermanentError(str(exc))
