"""Our marketplace workflow action "Send WhatsApp message": what GHL posts and how it is checked.

What GHL sends (docs/ghl-workflows.md, from the CustomActions doc and GHL's marketplace CLI):
`{"data": {<field reference>: value}, "extras": {"locationId", "contactId", "workflowId", ...},
"meta": {"key", "version"}}`, merge fields already resolved. GHL signs nothing on an action call;
the documented way to authenticate it is a header the developer configures, so the action is
configured with `Authorization: Bearer ${env:GHL_WORKFLOW_TOKEN}` and we compare it.

GHL documents no execution id. An id GHL may send (`executionId`, `statusId`: seen in the CLI's
types for paused executions) is used when present; otherwise the call is keyed on its content
in a 10-minute window, so a repeat of the same call sends once while the same workflow sending
the same text to the same contact next week still sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ghl_app.errors import AppError

ACTION_KEY = "send_whatsapp_message"
FIELD_MESSAGE = "message"
FIELD_ATTACHMENT = "attachment"
FIELD_FROM = "from_number"
AUTO = "auto"  # "the number that last talked to this contact" (the routing rules decide)
MAX_TEXT = 4096  # WhatsApp's own limit for a text message body is 65,536; GHL SMS is shorter
MAX_ATTACHMENTS = 10
DEDUPE_WINDOW_S = 600
_EXECUTION_ID_FIELDS = ("executionId", "statusId")


@dataclass(frozen=True, slots=True)
class SendAction:
    location_id: str
    contact_id: str
    workflow_id: str | None
    text: str
    attachments: tuple[str, ...]
    instance_id: uuid.UUID | None  # None: the routing rules pick the number
    execution_keys: tuple[str, ...]  # the first is stored; the others are checked for repeats


def check_token(expected: str, authorization: str | None) -> None:
    """The configured secret header, compared in constant time; refused when not configured."""
    if not expected:
        raise AppError(
            "workflows_not_configured", "Set GHL_WORKFLOW_TOKEN to accept workflow calls.", 503
        )
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
        raise AppError("unauthorized", "The workflow call did not carry our token.", 401)


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AppError("bad_field", f"{name} must be text.", 400)
    return value.strip()


def _attachments(value: Any) -> tuple[str, ...]:
    # The Attachment field's value is UNCONFIRMED (GHL's CLI types it as a string or a list):
    # a URL string, a list of URLs, or a list of {"url": ...} objects are all taken.
    if value in (None, "", []):
        return ()
    items = value if isinstance(value, list) else [value]
    urls: list[str] = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else item
        if not isinstance(url, str) or not url.strip().lower().startswith(("https://", "http://")):
            raise AppError("bad_attachment", "attachment must be an http(s) URL.", 400)
        urls.append(url.strip())
    if len(urls) > MAX_ATTACHMENTS:
        raise AppError("too_many_attachments", f"At most {MAX_ATTACHMENTS} attachments.", 400)
    return tuple(urls)


def _instance_id(value: Any) -> uuid.UUID | None:
    if value in (None, "", AUTO):
        return None
    if not isinstance(value, str):
        raise AppError("bad_field", "from_number must be a number's id.", 400)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise AppError(
            "bad_field", "from_number is not one of this location's numbers.", 400
        ) from None


def _keys(
    location_id: str, extras: dict[str, Any], content: dict[str, Any], now: float
) -> tuple[str, ...]:
    for name in _EXECUTION_ID_FIELDS:
        value = extras.get(name)
        if isinstance(value, str) and value.strip():
            return (f"{location_id}:{name}:{value.strip()[:80]}",)
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True, ensure_ascii=True).encode()
    ).hexdigest()[:48]
    bucket = int(now // DEDUPE_WINDOW_S)
    # This window's key, and the previous window's, which a repeat right after a boundary hits.
    return (f"content:{digest}:{bucket}", f"content:{digest}:{bucket - 1}")


def parse(payload: Any, *, now: float | None = None) -> SendAction:
    if not isinstance(payload, dict):
        raise AppError("malformed_json", "The body is not a JSON object.", 400)
    data = payload.get("data")
    extras = payload.get("extras")
    if not isinstance(data, dict) or not isinstance(extras, dict):
        raise AppError("bad_payload", "The body needs data and extras objects.", 400)
    location_id = _text(extras.get("locationId"), "extras.locationId")
    contact_id = _text(extras.get("contactId"), "extras.contactId")
    if not location_id:
        raise AppError("missing_field", "extras.locationId is missing.", 400)
    if not contact_id:
        raise AppError(
            "missing_contact", "This action sends to a contact: run it in a contact workflow.", 400
        )
    text = _text(data.get(FIELD_MESSAGE), FIELD_MESSAGE)
    if len(text) > MAX_TEXT:
        raise AppError("message_too_long", f"The message is longer than {MAX_TEXT}.", 400)
    attachments = _attachments(data.get(FIELD_ATTACHMENT))
    if not text and not attachments:
        raise AppError("empty_message", "The action has no message and no attachment.", 400)
    workflow_id = _text(extras.get("workflowId"), "extras.workflowId") or None
    instance_id = _instance_id(data.get(FIELD_FROM))
    content = {
        "location": location_id,
        "contact": contact_id,
        "workflow": workflow_id,
        "step": extras.get("stepId") if isinstance(extras.get("stepId"), str) else None,
        "text": text,
        "attachments": list(attachments),
        "from": str(instance_id) if instance_id else None,
    }
    return SendAction(
        location_id=location_id,
        contact_id=contact_id,
        workflow_id=workflow_id,
        text=text,
        attachments=attachments,
        instance_id=instance_id,
        execution_keys=_keys(location_id, extras, content, time.time() if now is None else now),
    )
