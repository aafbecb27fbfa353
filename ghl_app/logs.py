"""Operator logs: one line per event, `key=value` fields after the message.

Call sites pass context with `extra={"instance_id": ..., "location_id": ...}`; those fields are
printed in a fixed order so a grep for an instance or location finds every line about it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_FIELDS = ("location_id", "company_id", "instance_id", "job_id", "message_id", "webhook_id")


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        parts = [
            f"{name}={getattr(record, name)}" for name in _FIELDS if getattr(record, name, None)
        ]
        return f"{base} {' '.join(parts)}".rstrip()


class JsonFormatter(logging.Formatter):
    """LOG_FORMAT=json: one JSON object per line, the context fields as keys (for log stores
    that index fields: Render's log streams, Loki, Datadog)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Tortoise logs every query at DEBUG/INFO: noise for operators.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
