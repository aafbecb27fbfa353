"""Media never costs a message (issue 13, item 1): what GHL's upload list takes is uploaded, what a
library converts well is converted (voice notes -> MP3, stickers -> PNG, HEIC -> JPEG), and the
rest, or anything over GHL's 5 MB, becomes a signed `/media/` link in the text. End to end: the
app over HTTP, the fake WhatsApp Web page in real Chromium, the fake GHL (which refuses what the
spec says GHL refuses), a real SQLite file. Test media are made with PyAV and Pillow
(support/media_samples.py)."""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import av
from bridge.conftest import LOCATION, Bridged, wait_for
from PIL import Image

from support.media_samples import image_bytes, ogg_opus_voice_note, xlsx_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_LINK = re.compile(r"https?://\S+/media/\S+")


async def deliver(
    bridged: Bridged, data: bytes, mimetype: str, filename: str | None, **kw: Any
) -> None:
    await bridged.phone().deliver(
        **{"from": "5511944443333", "media": (data, mimetype, filename), **kw}
    )


async def the_message(bridged: Bridged) -> dict[str, Any]:
    await wait_for(lambda: len(bridged.inbound_calls()) == 1, timeout=45)
    return bridged.inbound_calls()[0]


def link_in(text: str) -> str:
    found = _LINK.search(text)
    assert found, f"no /media/ link in {text!r}"
    parts = urlsplit(found.group(0))
    return f"{parts.path}?{parts.query}"


async def test_voice_note_arrives_in_ghl_as_an_mp3_with_its_duration(bridged: Bridged) -> None:
    await deliver(bridged, ogg_opus_voice_note(3.0), "audio/ogg; codecs=opus", None, type="ptt")
    posted = await the_message(bridged)
    [upload] = bridged.fake.uploads
    assert upload["content_type"] == "audio/mpeg" and upload["filename"].endswith(".mp3")
    with av.open(io.BytesIO(upload["data"]), "r") as mp3:
        assert mp3.format.name == "mp3"
        assert mp3.streams.audio[0].codec_context.name in ("mp3", "mp3float")
        decoded = sum(frame.samples for frame in mp3.decode(audio=0))
        assert abs(decoded / mp3.streams.audio[0].rate - 3.0) < 0.2
    assert posted["attachments"] == [upload["url"]]
    assert posted["message"] == "Voice note (0:03)"


async def test_webp_sticker_arrives_in_ghl_as_a_png(bridged: Bridged) -> None:
    await deliver(bridged, image_bytes("WEBP"), "image/webp", None, type="sticker")
    posted = await the_message(bridged)
    [upload] = bridged.fake.uploads
    assert upload["content_type"] == "image/png" and upload["filename"].endswith(".png")
    with Image.open(io.BytesIO(upload["data"])) as png:
        assert (png.format, png.size) == ("PNG", (96, 64))
    assert posted["attachments"] == [upload["url"]]


async def test_heic_photo_arrives_in_ghl_as_a_jpeg(bridged: Bridged) -> None:
    await deliver(bridged, image_bytes("HEIF"), "image/heic", "IMG_0001.HEIC", caption="iPhone")
    posted = await the_message(bridged)
    [upload] = bridged.fake.uploads
    assert (upload["content_type"], upload["filename"]) == ("image/jpeg", "IMG_0001.jpg")
    with Image.open(io.BytesIO(upload["data"])) as jpeg:
        assert (jpeg.format, jpeg.size) == ("JPEG", (96, 64))
    assert posted["message"] == "iPhone" and posted["attachments"] == [upload["url"]]


async def test_xlsx_arrives_as_a_link_in_the_text_that_downloads_it(bridged: Bridged) -> None:
    sheet = xlsx_bytes()
    await deliver(bridged, sheet, XLSX, "prices.xlsx", caption="our prices")
    posted = await the_message(bridged)
    assert not bridged.fake.uploads and not posted.get("attachments")
    first_line, second_line = posted["message"].split("\n")
    assert first_line == "our prices"
    assert second_line.startswith("prices.xlsx (1 KB, available until ")
    async with bridged.app.client() as client:
        response = await client.get(link_in(posted["message"]))
    assert response.status_code == 200 and response.content == sheet
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "prices.xlsx" in response.headers["content-disposition"]


async def test_30_mb_pdf_becomes_a_link_that_only_its_token_opens(bridged: Bridged) -> None:
    pdf = b"%PDF-1.4\n" + os.urandom(30 * 1024 * 1024) + b"\n%%EOF\n"
    await deliver(bridged, pdf, "application/pdf", "contract.pdf", caption="signed")
    posted = await the_message(bridged)
    assert not bridged.fake.calls_to("/conversations/messages/upload")  # over 5 MB: not tried
    assert posted["message"].startswith("signed\ncontract.pdf (30.0 MB, available until ")
    link = link_in(posted["message"])
    path, _, query = link.partition("?")
    token = query.removeprefix("token=")
    # Another location's file and token, kept by the same app.
    other = await bridged.services.media_links.keep(
        "loc-other", "message:1", data=b"other", mimetype="text/plain", filename="o.txt"
    )
    other_link = link_in(bridged.services.media_links.url(other))
    other_token = other_link.partition("?token=")[2]
    async with bridged.app.client() as client:
        ok = await client.get(link)
        refused = [
            await client.get(path),
            await client.get(f"{path}?token="),
            await client.get(f"{path}?token={token[:-2]}xx"),
            await client.get(f"{path}?token={other_token}"),
            await client.get(f"{path.replace(LOCATION, 'loc-other')}?token={token}"),
            await client.get(f"{other_link.replace('loc-other', LOCATION)}"),
        ]
    assert ok.status_code == 200 and ok.content == pdf
    assert ok.headers["content-type"] == "application/pdf"
    assert ok.headers["content-disposition"].startswith("inline;")
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert {r.json()["error"]["code"] for r in refused} == {"invalid_media_token"}


async def test_an_upload_ghl_refuses_becomes_a_link_and_the_caption_still_arrives(
    bridged: Bridged,
) -> None:
    # GHL's answer is the spec's word, not ours: a type we thought it takes may still be refused.
    bridged.fake.inject("/conversations/messages/upload", status=415)
    png = image_bytes("PNG")
    await deliver(bridged, png, "image/png", "photo.png", caption="look at this")
    posted = await the_message(bridged)
    assert [c.status for c in bridged.fake.calls_to("/conversations/messages/upload")] == [415]
    assert posted["message"].startswith("look at this\nphoto.png (")
    async with bridged.app.client() as client:
        response = await client.get(link_in(posted["message"]))
    assert response.status_code == 200 and response.content == png
    assert response.headers["content-type"] == "image/png"


async def test_an_upload_ghl_keeps_failing_with_500_becomes_a_link_not_a_lost_message(
    bridged: Bridged,
) -> None:
    bridged.fake.inject("/conversations/messages/upload", status=500)
    pdf = b"%PDF-1.4\n% small\n%%EOF\n"
    await deliver(bridged, pdf, "application/pdf", "invoice.pdf", caption="invoice")
    posted = await the_message(bridged)
    uploads = bridged.fake.calls_to("/conversations/messages/upload")
    assert len(uploads) > 1 and {c.status for c in uploads} == {500}  # the client retried first
    assert posted["message"].startswith("invoice\ninvoice.pdf (1 KB, available until ")
    async with bridged.app.client() as client:
        assert (await client.get(link_in(posted["message"]))).content == pdf


async def test_with_the_data_disk_nearly_full_the_file_is_not_kept_but_the_text_arrives(
    bridged: Bridged,
) -> None:
    # The real free space of the test's disk, against a reserve no disk has.
    bridged.services.media_links.min_free_bytes = 1 << 62
    await deliver(bridged, xlsx_bytes(), XLSX, "prices.xlsx", caption="our prices")
    posted = await the_message(bridged)
    assert posted["message"] == (
        "our prices\n[WhatsApp prices.xlsx could not be attached: open it on the phone]"
    )
    assert not list(bridged.settings.media_dir.glob("*/*/data"))


async def test_a_linked_file_is_deleted_after_its_retention(bridged: Bridged) -> None:
    await deliver(bridged, xlsx_bytes(), XLSX, "old.xlsx")
    link = link_in((await the_message(bridged))["message"])
    links = bridged.services.media_links
    assert await links.cleanup() == 0  # still within its 30 days
    assert await links.cleanup(datetime.now(UTC) + timedelta(days=31)) == 1
    assert not list(bridged.settings.media_dir.glob(f"{LOCATION}/*/data"))
    async with bridged.app.client() as client:
        gone = await client.get(link)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
