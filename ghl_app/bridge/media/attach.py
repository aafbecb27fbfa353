"""One inbound WhatsApp file on its way into a GHL message: uploaded when GHL's upload takes it
(as it came, or converted), otherwise kept by us and linked in the text. Media never costs a
message: a refused upload becomes a link, and the caller posts the text and caption either way.

Issue 13 / audit finding 1: voice notes (OGG/Opus), stickers (WEBP), XLSX and anything over 5 MB
are outside GHL's upload list, and a 413/415 used to fail the whole message.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from ghl_app.bridge import _rows, number_settings
from ghl_app.bridge.media import MAX_INBOUND_BYTES, default_name, too_large_note, unsupported_note
from ghl_app.bridge.media.convert import Prepared, prepare_for_ghl
from ghl_app.bridge.media.ghl_upload import UPLOAD_MAX_BYTES
from ghl_app.bridge.media.links import DiskFull, LinkedFile, MediaLinks
from ghl_app.bridge.notes_text import say
from ghl_app.ghl.client import GhlClient
from ghl_app.ghl.http import BudgetSpent, GhlApiError
from ghl_app.jobs.errors import RetryableError
from ghl_app.sessions import SessionManager

log = logging.getLogger(__name__)

# Upload failures that are not about the file: our token (401/403, the client refreshes and the
# job flags a dead grant) or GHL's load (429). The inbound post would meet the same, so the job
# waits. Anything else (400/413/415, or a 5xx or timeout the client already retried) links.
_NOT_ABOUT_THE_FILE = (401, 403, 429)


class InboundMedia:
    def __init__(self, *, client: GhlClient, sessions: SessionManager, links: MediaLinks) -> None:
        self._client = client
        self._sessions = sessions
        self._links = links

    async def attachments(
        self, message: _rows.SyncRow, contact_id: str, conversation_id: str
    ) -> tuple[list[str], str | None]:
        """(GHL attachment URLs, a line for the message text) for the message's media."""
        info = message.media
        if not info or info.get("note"):
            return [], None  # none, or a note's link to its original (bridge/event_kinds.py)
        if not info.get("supported", False):
            return [], unsupported_note(info)
        if (info.get("size") or 0) > MAX_INBOUND_BYTES:
            return [], too_large_note(info)
        assert message.instance_id is not None
        engine = await self._sessions.engine_of(message.instance_id)
        if engine is None or not engine.running:
            raise RetryableError("the WhatsApp session is not running: media download waits")
        downloaded = await engine.download_media(
            str(info.get("serialized_id") or message.wa_message_id or "")
        )
        if len(downloaded.data) > MAX_INBOUND_BYTES:
            return [], too_large_note(info)
        filename = str(
            downloaded.filename or info.get("filename") or default_name(downloaded.mimetype)
        )
        prepared = await asyncio.to_thread(
            prepare_for_ghl, downloaded.data, downloaded.mimetype, filename
        )
        context = {
            "instance_id": str(message.instance_id),
            "location_id": message.location_id,
            "message_id": message.id,
        }
        settings = await number_settings.load(message.instance_id, message.location_id)
        heading = _heading(info, prepared, settings.notes_language)
        if prepared is not None and len(prepared.data) <= UPLOAD_MAX_BYTES:
            try:
                url = await self._client.upload_attachment(
                    message.location_id,
                    conversation_id=conversation_id,
                    contact_id=contact_id,
                    filename=prepared.filename,
                    data=prepared.data,
                    content_type=prepared.mimetype,
                )
            except GhlApiError as exc:
                if isinstance(exc, BudgetSpent) or exc.status in _NOT_ABOUT_THE_FILE:
                    raise
                log.warning("GHL refused the upload (%s): linked instead", exc, extra=context)
            else:
                if prepared.converted_from:
                    log.info(
                        "media converted from %s to %s for GHL",
                        prepared.converted_from,
                        prepared.mimetype,
                        extra=context,
                    )
                return [url], heading
        # Not in GHL's list, over its size, or refused: a link to our copy (the converted one
        # when there is one, as it plays in more browsers).
        if prepared is not None:
            data, mimetype, name = prepared.data, prepared.mimetype, prepared.filename
        else:
            data, mimetype, name = downloaded.data, downloaded.mimetype, filename
        try:
            linked = await self._links.keep(
                message.location_id,
                f"message:{message.id}",
                data=data,
                mimetype=mimetype,
                filename=name,
            )
        except DiskFull as exc:
            # The database shares the disk: the message goes on with a note, the file stays
            # on the phone.
            log.error("media not kept: %s", exc, extra=context)
            return [], not_kept_note(info, heading)
        log.info("media kept and linked (%s, %d bytes)", mimetype, linked.size, extra=context)
        return [], _link_line(heading, linked, self._links.url(linked))


def _heading(info: dict[str, Any], prepared: Prepared | None, language: str) -> str | None:
    """`Voice note (0:07)`: what a bare audio file is, since GHL shows it without a title; in
    the number's notes language (issue 16)."""
    if prepared is None or prepared.duration_s is None:
        return None
    seconds = round(prepared.duration_s)
    kind = "voice_note" if info.get("type") == "ptt" else "audio"
    return say(language, kind, duration=f"{seconds // 60}:{seconds % 60:02d}")


def _link_line(heading: str | None, linked: LinkedFile, url: str) -> str:
    until = datetime.fromtimestamp(linked.expires_at, UTC).date().isoformat()
    line = f"{linked.filename} ({_size(linked.size)}, available until {until}): {url}"
    return f"{heading}\n{line}" if heading else line


def not_kept_note(info: dict[str, Any], heading: str | None) -> str:
    name = info.get("filename") or info.get("type") or "file"
    line = f"[WhatsApp {name} could not be attached: open it on the phone]"
    return f"{heading}\n{line}" if heading else line


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"
