"""What the fake GHL's `POST /conversations/messages/upload` refuses, as GHL's spec states it
(GoHighLevel/highlevel-api-docs `apps/conversations.json`, operation `upload-file-attachments`):

- "The allowed file types are: JPG, JPEG, PNG, MP4, MPEG, ZIP, RAR, PDF, DOC, DOCX, TXT, MP3,
  WAV"; anything else answers 415 "Unsupported Media Type";
- a file over the limit answers 413 "Payload Too Large". The limit is from `initiate-file-upload`
  (`channel`: "WHATSAPP for 100MB limit, others for 5MB"); a custom SMS provider is "others".
- both error bodies are `UploadFilesErrorResponseDto` `{status, message}` (required), whose
  example message is "Failed to upload the files".

Written here from the spec, on purpose not imported from the app: the fake must not agree with
the app by construction. Which of the file name or the part's content type GHL checks is not
documented, so the fake checks both.
"""

from __future__ import annotations

from typing import Any

UPLOAD_LIMIT_BYTES = 5_000_000  # "5MB", read the strict way

_EXTENSIONS = (
    "jpg",
    "jpeg",
    "png",
    "mp4",
    "mpeg",
    "zip",
    "rar",
    "pdf",
    "doc",
    "docx",
    "txt",
    "mp3",
    "wav",
)
# The content types those formats travel under (IANA names and the common legacy ones).
_CONTENT_TYPES = (
    "image/jpeg",
    "image/jpg",
    "image/png",
    "video/mp4",
    "video/mpeg",
    "audio/mpeg",
    "audio/mp3",
    "application/zip",
    "application/x-zip-compressed",
    "application/vnd.rar",
    "application/x-rar-compressed",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "text/plain",
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
)


def upload_refusal(
    filename: str, content_type: str, size: int, *, limit: int = UPLOAD_LIMIT_BYTES
) -> tuple[int, dict[str, Any]] | None:
    """(status, body) GHL answers for this file, or None when it takes it."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    kind = content_type.split(";")[0].strip().lower()
    if extension not in _EXTENSIONS or kind not in _CONTENT_TYPES:
        return 415, {"status": 415, "message": "Failed to upload the files"}
    if size > limit:
        return 413, {"status": 413, "message": "Failed to upload the files"}
    return None
