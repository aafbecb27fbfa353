"""Operator logs: one line per event, `key=value` fields after the message.

Call sites pass context with `extra={"instance_id": ..., "location_id": ...}`; those fields are
printed in a fixed order so a grep for an instance or location finds every line about it.
"""

from __future__ import annotations

import logging
import sys

_FIELDS = ("location_id", "company_id", "instance_id", "job_id", "message_id", "webhook_id")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        parts = [
            f"{name}={getattr(record, name)}" for name in _FIELDS if getattr(record, name, None)
        ]
        return f"{base} {' '.join(parts)}".rstrip()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Tortoise logs every query at DEBUG/INFO: noise for operators.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
