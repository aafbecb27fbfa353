"""GHL's conversation upload as its spec states it (`upload-file-attachments` in
GoHighLevel/highlevel-api-docs `apps/conversations.json`): the allowed-type list, the 5 MB limit
for non-WhatsApp channels, 415/413 with `UploadFilesErrorResponseDto` bodies. Driven through
the app's own GHL client against the fake GHL over HTTP."""

from __future__ import annotations

import pytest
from ghl.conftest import seed_location

from ghl_app.demo.fake_ghl import FakeGhl
from ghl_app.ghl.http import GhlApiError
from ghl_app.ghl.integration import GhlIntegration
from ghl_app.settings import Settings


async def _upload(ghl: GhlIntegration, filename: str, data: bytes, content_type: str) -> str:
    return await ghl.client.upload_attachment(
        "loc-1",
        conversation_id="conv-1",
        contact_id="contact-1",
        filename=filename,
        data=data,
        content_type=content_type,
    )


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("photo.jpg", "image/jpeg"),
        ("scan.PNG", "image/png"),
        ("voice.mp3", "audio/mpeg"),
        ("call.wav", "audio/wav"),
        ("clip.mp4", "video/mp4"),
        ("contract.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
        (
            "letter.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
async def test_listed_types_are_taken_up_to_5_mb_and_refused_past_it(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings, filename: str, content_type: str
) -> None:
    await seed_location(fake_ghl, settings)
    url = await _upload(ghl, filename, b"x" * 5_000_000, content_type)
    assert fake_ghl.uploads[-1]["url"] == url
    with pytest.raises(GhlApiError) as refused:
        await _upload(ghl, filename, b"x" * 5_000_001, content_type)
    assert refused.value.status == 413
    assert len(fake_ghl.uploads) == 1


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("voice.ogg", "audio/ogg; codecs=opus"),  # a WhatsApp voice note
        ("sticker.webp", "image/webp"),
        ("IMG_0001.HEIC", "image/heic"),
        ("prices.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("photo.png", "application/octet-stream"),  # the name alone is not enough
        ("photo", "image/png"),  # nor the content type alone
    ],
)
async def test_types_outside_the_list_are_refused_with_415(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings, filename: str, content_type: str
) -> None:
    await seed_location(fake_ghl, settings)
    with pytest.raises(GhlApiError) as refused:
        await _upload(ghl, filename, b"data", content_type)
    assert refused.value.status == 415 and not refused.value.retryable
    [call] = fake_ghl.calls_to("/conversations/messages/upload")
    assert call.status == 415
    assert not fake_ghl.uploads


async def test_a_listed_type_over_5_mb_is_refused_with_413_in_the_specs_shape(
    ghl: GhlIntegration, fake_ghl: FakeGhl, settings: Settings
) -> None:
    await seed_location(fake_ghl, settings)
    with pytest.raises(GhlApiError) as refused:
        await _upload(ghl, "big.pdf", b"x" * 5_000_001, "application/pdf")
    assert refused.value.status == 413 and not refused.value.retryable
    # UploadFilesErrorResponseDto: {status, message}, both required.
    assert refused.value.message == "Failed to upload the files"
    assert not fake_ghl.uploads
