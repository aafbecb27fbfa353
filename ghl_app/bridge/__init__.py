"""The message bridge: WhatsApp -> GHL (`inbound`), GHL -> WhatsApp (`outbound`), acks to GHL
statuses (`acks`). Everything goes through the durable job queue: stored first, then synced."""

from ghl_app.bridge.service import Bridge

__all__ = ["Bridge"]
