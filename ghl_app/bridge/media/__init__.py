"""What the bridge does with media: which types travel, size limits, and the readable note left
in the conversation when something cannot travel (never a silent drop).

Inbound files go to GHL as uploads when GHL's list takes them (`ghl_upload`), converted first when
a library does that well (`convert`), else as signed links we serve (`links`); `attach` decides.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from connectors.events import Message as WaMessage

# WhatsApp allows documents up to 2 GB, and the download travels through the browser page as
# base64: past this we leave a note ("open it on the phone") instead of a link.
MAX_INBOUND_BYTES = 100 * 1024 * 1024
MAX_OUTBOUND_BYTES = 16 * 1024 * 1024

SUPPORTED_TYPES = {"image", "video", "audio", "ptt", "document", "sticker"}
OUTBOUND_MIME_PREFIXES = ("image/", "video/", "audio/", "application/", "text/")


def describe(event: WaMessage) -> dict[str, Any] | None:
    if event.type == "chat":
        return None
    return {
        "type": event.type,
        "mimetype": event.mimetype,
        "filename": event.filename,
        "size": event.size,
        "supported": event.type in SUPPORTED_TYPES,
        # wa-js's downloadMedia takes the whole MsgKey (chat/functions/getMessageById.ts parses
        # it with MsgKey.fromString): kept with the message so a download after a restart works.
        "serialized_id": event.serialized_id,
    }


def default_name(mimetype: str) -> str:
    extension = mimetypes.guess_extension(mimetype.split(";")[0].strip()) or ".bin"
    return f"whatsapp-media{extension}"


def unsupported_note(info: dict[str, Any]) -> str:
    if info.get("type") == "undecryptable":
        # The bridge's name for a message wa-js never decrypted (connectors/wa_bridge.js).
        return "[A message that WhatsApp could not decrypt: open it on the phone]"
    return f"[WhatsApp {info.get('type', 'message')} not supported here: open it on the phone]"


def too_large_note(info: dict[str, Any]) -> str:
    name = info.get("filename") or info.get("type") or "file"
    return f"[WhatsApp {name} too large to attach: open it on the phone]"
