"""`GET /media/{location_id}/{file_id}/{filename}?token=…`: an inbound WhatsApp file GHL would not
take, served to whoever holds its signed link (ghl_app/bridge/media/links.py). Without a valid
token for that location and file: 403; once the retention has passed: 404."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ghl_app.bridge.media.links import MediaLinks
from ghl_app.errors import AppError

log = logging.getLogger(__name__)

# A stored file is the customer's content, never our page: no scripts, no plugins, no framing
# of anything, even for a type a browser renders.
_FILE_POLICY = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"


async def media_file(request: Request) -> Response:
    links: MediaLinks = request.app.state.services.media_links
    location_id = request.path_params["location_id"]
    try:
        linked, path = links.open(
            location_id, request.path_params["file_id"], request.query_params.get("token", "")
        )
    except AppError as exc:
        log.info(
            "media link refused (%s)",
            exc.code,
            extra={"location_id": location_id, "file_id": request.path_params["file_id"]},
        )
        raise
    return FileResponse(
        path,
        media_type=linked.mimetype,
        filename=linked.filename,
        content_disposition_type="inline" if linked.inline else "attachment",
        headers={
            "content-security-policy": _FILE_POLICY,
            "cache-control": "private, max-age=3600",
        },
    )


routes = [Route("/media/{location_id}/{file_id}/{filename}", media_file, methods=["GET", "HEAD"])]
