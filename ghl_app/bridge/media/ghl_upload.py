"""What GHL's conversation upload (`POST /conversations/messages/upload`) takes.

Source: GoHighLevel/highlevel-api-docs `apps/conversations.json`, operation
`upload-file-attachments`: "The allowed file types are: JPG, JPEG, PNG, MP4, MPEG, ZIP, RAR, PDF,
DOC, DOCX, TXT, MP3, WAV", answering 413 (Payload Too Large) and 415 (Unsupported Media Type).
The size: `initiate-file-upload`'s `channel` says "WHATSAPP for 100MB limit, others for 5MB"; our
provider is a custom SMS provider, so 5 MB, read as 5,000,000 bytes (the stricter reading).
Whether GHL checks the extension or the content type is not documented: we send both right.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

UPLOAD_MAX_BYTES = 5_000_000

# Content type -> the extensions GHL lists for it (the first is the one we add when missing).
_ACCEPTED: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "video/mp4": (".mp4",),
    "video/mpeg": (".mpeg",),
    "application/zip": (".zip",),
    "application/vnd.rar": (".rar",),
    "application/pdf": (".pdf",),
    "application/msword": (".doc",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "text/plain": (".txt",),
    "audio/mpeg": (".mp3",),
    "audio/wav": (".wav",),
}
# Other names WhatsApp and browsers use for the same formats.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "application/x-zip-compressed": "application/zip",
    "application/x-rar-compressed": "application/vnd.rar",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
}


def base_type(mimetype: str) -> str:
    """`audio/ogg; codecs=opus` -> `audio/ogg`."""
    return mimetype.split(";")[0].strip().lower()


def accepted_type(mimetype: str) -> str | None:
    """The content type to upload under, or None when GHL's list has no such format."""
    kind = base_type(mimetype)
    kind = _ALIASES.get(kind, kind)
    return kind if kind in _ACCEPTED else None


def upload_name(filename: str, mimetype: str) -> str:
    """`filename` with an extension GHL lists for `mimetype` (an accepted type)."""
    extensions = _ACCEPTED[mimetype]
    path = PurePosixPath(filename)
    if path.suffix.lower() in extensions:
        return filename
    stem = path.stem if path.suffix and mimetypes.guess_type(filename)[0] else path.name
    return f"{stem or 'whatsapp-media'}{extensions[0]}"
