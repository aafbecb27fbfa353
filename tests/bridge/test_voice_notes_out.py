"""An audio reply from GHL goes out as a WhatsApp voice note (issue 16): sent with wa-js's
`type: 'audio', isPtt: true`, which the fixture (like WhatsApp) types `ptt`, and its payload is
OGG/Opus, converted with PyAV when GHL's file is anything else. The app, the fixture page in
real Chromium, the fake GHL serving the attachment."""

from __future__ import annotations

import base64
import io
from typing import Any

import av
from bridge.conftest import Bridged, wait_for

from ghl_app.bridge.media.convert import audio_to_mp3
from support.media_samples import m4a_aac, ogg_opus_voice_note


async def _customer(bridged: Bridged) -> str:
    await bridged.phone().deliver(**{"from": "5511933332222", "body": "can you send an audio?"})
    await wait_for(lambda: len(bridged.inbound_calls()) == 1)
    return str(bridged.inbound_calls()[0]["contactId"])


async def _sent_voice(bridged: Bridged) -> tuple[dict[str, Any], bytes]:
    phone = bridged.phone()

    async def sent() -> bool:
        return any(s["type"] == "ptt" for s in await phone.sent())

    await wait_for(sent, timeout=60)
    note = next(s for s in await phone.sent() if s["type"] == "ptt")
    # What WhatsApp holds for it, read back the way wa-js gives media (downloadMedia + base64).
    data_url = await phone.page.evaluate(
        "async (id) => WPP.util.blobToBase64(await WPP.chat.downloadMedia(id))",
        note["serialized_id"],
    )
    return note, base64.b64decode(str(data_url).split(",", 1)[1])


def _opus_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        assert "ogg" in container.format.name
        [audio] = container.streams.audio
        assert audio.codec.name == "opus" and audio.channels == 1
        assert container.duration is not None
        return float(container.duration / av.time_base)


async def test_an_mp3_reply_goes_out_as_an_ogg_opus_voice_note_after_its_text(
    bridged: Bridged,
) -> None:
    mp3, seconds = audio_to_mp3(m4a_aac(2.0))
    bridged.fake.files["reply.mp3"] = (mp3, "audio/mpeg")
    contact_id = await _customer(bridged)
    await bridged.reply_from_ghl(
        contact_id, "here is the audio", attachments=[f"{bridged.fake.url}/files/reply.mp3"]
    )
    note, payload = await _sent_voice(bridged)
    assert note["mimetype"] == "audio/ogg; codecs=opus" and note["filename"] == "reply.ogg"
    assert abs(_opus_seconds(payload) - seconds) < 0.2
    # A voice note carries no caption: the text went first, as its own message.
    sent = await bridged.phone().sent()
    assert [(s["type"], s["body"]) for s in sent] == [
        ("chat", "here is the audio"),
        ("ptt", None),
    ]
    assert note["caption"] in (None, "reply.ogg")  # wa-js puts the filename when none is given
    # The number's journey shows the voice note's length.
    async with bridged.app.client() as client:
        journey = await client.get(
            f"/api/instances/{bridged.instance_id}/messages",
            headers={"Authorization": f"Bearer {bridged.token}"},
        )
    [reply] = [m for m in journey.json()["messages"] if m["body"] == "here is the audio"]
    assert abs(reply["voice_seconds"] - seconds) < 0.2


async def test_an_ogg_opus_reply_goes_as_it_is(bridged: Bridged) -> None:
    ogg = ogg_opus_voice_note(1.5)
    bridged.fake.files["note.ogg"] = (ogg, "audio/ogg")
    contact_id = await _customer(bridged)
    await bridged.reply_from_ghl(contact_id, "", attachments=[f"{bridged.fake.url}/files/note.ogg"])
    note, payload = await _sent_voice(bridged)
    assert payload == ogg and note["size"] == len(ogg)
    assert [s["type"] for s in await bridged.phone().sent()] == ["ptt"]
