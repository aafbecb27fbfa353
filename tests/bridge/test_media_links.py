"""The app's `/media/` links on their own: the supervised retention sweep, and how a kept file is
served (a customer's HTML never runs in our origin). The real app over HTTP on a real SQLite
file; no browser needed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlsplit

from ghl_app.bridge.media.links import MediaLinks
from ghl_app.db import apply_migrations
from ghl_app.settings import Settings
from support.app_server import run_app
from web.app import create_app


def _links(settings: Settings, retention: timedelta) -> MediaLinks:
    return MediaLinks(
        settings.media_dir,
        public_url=settings.public_url,
        app_secret=settings.app_secret,
        retention=retention,
    )


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_the_retention_task_deletes_expired_files_and_keeps_the_others(
    settings: Settings,
) -> None:
    # Kept by an earlier run of the app: one file past its retention, one within it.
    expired = await _links(settings, timedelta(seconds=-1)).keep(
        "loc-1", "message:1", data=b"old", mimetype="application/pdf", filename="old.pdf"
    )
    fresh = await _links(settings, timedelta(days=30)).keep(
        "loc-1", "message:2", data=b"new", mimetype="application/pdf", filename="new.pdf"
    )
    await apply_migrations(settings.database_url)
    app = create_app(settings)
    async with run_app(app) as running:
        assert "media-retention" in app.state.services.supervisor.names
        async with asyncio.timeout(20):
            while (settings.media_dir / "loc-1" / expired.file_id).exists():
                await asyncio.sleep(0.05)
        async with running.client() as client:
            kept = await client.get(_path(app.state.services.media_links.url(fresh)))
    assert kept.status_code == 200 and kept.content == b"new"


async def test_a_kept_html_file_downloads_and_never_renders_in_our_origin(
    settings: Settings,
) -> None:
    await apply_migrations(settings.database_url)
    app = create_app(settings)
    async with run_app(app) as running:
        links: MediaLinks = app.state.services.media_links
        page = await links.keep(
            "loc-1",
            "message:3",
            data=b"<script>alert(1)</script>",
            mimetype="text/html",
            filename="../../evil\r\n.html",
        )
        async with running.client() as client:
            response = await client.get(_path(links.url(page)))
            head = await client.head(_path(links.url(page)))
            unknown = await client.get("/media/loc-1/" + "0" * 32 + "/x.pdf?token=1.abc")
    assert response.status_code == 200 and response.content == b"<script>alert(1)</script>"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "\r" not in response.headers["content-disposition"]
    assert "/" not in page.filename
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert head.status_code == 200
    assert unknown.status_code == 403
    assert unknown.json()["error"]["code"] == "invalid_media_token"
