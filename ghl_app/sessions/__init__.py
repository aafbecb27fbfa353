"""WhatsApp sessions: the session manager owns every engine (architecture.md, session states)."""

from __future__ import annotations

from ghl_app.sessions.manager import SessionManager
from ghl_app.sessions.qr import QrCode
from ghl_app.sessions.state import StartResult, instance_snapshot

__all__ = ["QrCode", "SessionManager", "StartResult", "instance_snapshot"]
