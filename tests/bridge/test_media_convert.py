"""The converters on their own, on media made here with PyAV and Pillow: what GHL's upload list
takes goes as it is, audio and images it refuses are converted, and a file nothing converts is
left for a link (None), never an exception that would cost the message."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from ghl_app.bridge.media.convert import prepare_for_ghl
from support.media_samples import image_bytes, m4a_aac, ogg_opus_voice_note


def _mp3_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), "r") as mp3:
        assert mp3.format.name == "mp3"
        rate = mp3.streams.audio[0].rate
        return sum(frame.samples for frame in mp3.decode(audio=0)) / rate


def test_an_ogg_opus_voice_note_becomes_an_mp3_named_after_it() -> None:
    prepared = prepare_for_ghl(ogg_opus_voice_note(2.0), "audio/ogg; codecs=opus", "ptt.ogg")
    assert prepared is not None
    assert (prepared.mimetype, prepared.filename) == ("audio/mpeg", "ptt.mp3")
    assert prepared.converted_from == "audio/ogg"
    assert abs(_mp3_seconds(prepared.data) - 2.0) < 0.2
    assert prepared.duration_s is not None and abs(prepared.duration_s - 2.0) < 0.1


def test_stereo_aac_in_m4a_becomes_an_mp3() -> None:
    prepared = prepare_for_ghl(m4a_aac(2.0), "audio/mp4", "memo.m4a")
    assert prepared is not None and prepared.filename == "memo.mp3"
    with av.open(io.BytesIO(prepared.data), "r") as mp3:
        assert mp3.streams.audio[0].channels == 2
    assert abs(_mp3_seconds(prepared.data) - 2.0) < 0.2


def test_a_gif_becomes_a_png_and_a_jpeg_goes_as_it_is() -> None:
    gif = prepare_for_ghl(image_bytes("GIF"), "image/gif", "fun.gif")
    assert gif is not None and (gif.mimetype, gif.filename) == ("image/png", "fun.png")
    assert Image.open(io.BytesIO(gif.data)).format == "PNG"
    jpeg_data = image_bytes("JPEG")
    jpeg = prepare_for_ghl(jpeg_data, "image/jpeg", "photo")
    assert jpeg is not None and jpeg.data == jpeg_data and jpeg.converted_from is None
    assert jpeg.filename == "photo.jpg"  # GHL's list is of extensions: the name gets one


@pytest.mark.parametrize(
    ("data", "mimetype"),
    [
        (b"not audio at all", "audio/ogg"),
        (b"not a picture", "image/webp"),
        (b"PK\x03\x04", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (b"\x00\x00\x00\x18ftyp3gp4", "video/3gpp"),
    ],
)
def test_what_nothing_converts_is_left_for_a_link(data: bytes, mimetype: str) -> None:
    assert prepare_for_ghl(data, mimetype, "file") is None


def test_a_listed_type_goes_as_it_is_even_when_it_cannot_be_read() -> None:
    prepared = prepare_for_ghl(b"ID3 broken", "audio/mp3", "song.mp3")
    assert prepared is not None and prepared.mimetype == "audio/mpeg"
    assert prepared.duration_s is None and prepared.data == b"ID3 broken"


def test_an_untyped_document_is_known_by_its_name() -> None:
    prepared = prepare_for_ghl(b"%PDF-1.4", "application/octet-stream", "invoice.pdf")
    assert prepared is not None and (prepared.mimetype, prepared.filename) == (
        "application/pdf",
        "invoice.pdf",
    )
