"""The one application error type: a code for machines, a message for people, an HTTP status."""

from __future__ import annotations


class AppError(Exception):
    """An expected failure. Routes turn it into `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class ConfigError(Exception):
    """A setting is missing or malformed. Its message is one line naming the setting and the fix."""
