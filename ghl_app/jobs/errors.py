"""How a job handler tells the queue what a failure means."""

from __future__ import annotations


class RetryableError(Exception):
    """A transient failure (429, 5xx, a timeout): the job is retried with backoff.

    `retry_after_s` carries what the remote side asked for (GHL's `Retry-After` or rate-limit
    reset headers); the queue never retries sooner than that. Any other exception a handler
    raises is treated the same way, minus the hint.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class PermanentError(Exception):
    """A failure that retrying cannot fix (a 4xx that is not a rate limit, bad payload): the job
    is parked as failed at once, visible on the page and retryable by hand."""


class Deferred(Exception):
    """Not a failure: the job cannot do its work now (its location's GHL request budget is
    spent). It goes back to the queue to run after `after_s` seconds, the attempt not counted,
    and its worker is free for other jobs meanwhile."""

    def __init__(self, message: str, after_s: float) -> None:
        super().__init__(message)
        self.message = message
        self.after_s = after_s
