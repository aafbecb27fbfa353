"""The component schemas of `/openapi.json` (web/openapi.py): what the integrator API and the
page's API send and answer."""

from __future__ import annotations

from typing import Any

from ghl_app.integrations.events import EVENT_TYPES
from ghl_app.models import Direction, InstanceStatus, MessageStatus, Origin

_NULL_STR = {"type": ["string", "null"]}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
SCHEMAS: dict[str, Any] = {
    "Error": _ERROR,
    "Object": {"type": "object"},
    "Number": {
        "type": "object",
        "required": ["id", "name", "status", "phone_number", "is_default"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "status": {"enum": [s.value for s in InstanceStatus]},
            "phone_number": _NULL_STR,
            "is_default": {"type": "boolean"},
        },
    },
    "Message": {
        "type": "object",
        "required": ["id", "direction", "origin", "status", "body", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "direction": {"enum": [d.value for d in Direction]},
            "origin": {"enum": [o.value for o in Origin]},
            "status": {"enum": [s.value for s in MessageStatus]},
            "error": _NULL_STR,
            "body": {"type": "string", "maxLength": 200},
            "media_type": _NULL_STR,
            "route": {"type": ["object", "null"]},
            "wa_message_id": _NULL_STR,
            "ghl_message_id": _NULL_STR,
            "created_at": _NULL_STR,
            "updated_at": _NULL_STR,
        },
    },
    "SendMessage": {
        "type": "object",
        "required": ["to"],
        "properties": {
            "to": {"type": "string", "description": "phone with country code, or a GHL contact id"},
            "text": {"type": "string"},
            "file": {
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string", "format": "uri"}},
            },
        },
    },
    "Webhook": {
        "type": "object",
        "required": ["id", "url", "events", "active"],
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string"},
            "events": {"type": "array", "items": {"enum": list(EVENT_TYPES)}},
            "active": {"type": "boolean"},
        },
    },
    "NewWebhook": {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": 2048},
            "events": {"type": "array", "items": {"enum": list(EVENT_TYPES)}},
        },
    },
}
