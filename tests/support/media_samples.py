"""Media for tests, made with PyAV and Pillow (no binary blobs in the repository): a WhatsApp
voice note, an iPhone voice memo, images in any format Pillow (and pillow-heif) writes, an
XLSX."""

from __future__ import annotations

import io
import math
import struct
import zipfile
from fractions import Fraction

import av
import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()  # Pillow writes HEIF through pillow-heif


def ogg_opus_voice_note(seconds: float = 3.0, rate: int = 48000) -> bytes:
    """A mono OGG/Opus file of a 440 Hz tone, as WhatsApp records voice notes."""
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=rate, layout="mono")
        step, done = 960, 0
        while done < int(seconds * rate):
            frame = av.AudioFrame(format="s16", layout="mono", samples=step)
            tone = (
                int(8000 * math.sin(2 * math.pi * 440 * (done + i) / rate)) for i in range(step)
            )
            frame.planes[0].update(struct.pack(f"<{step}h", *tone))
            frame.sample_rate = rate
            frame.pts, frame.time_base = done, Fraction(1, rate)
            done += step
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def image_bytes(fmt: str, size: tuple[int, int] = (96, 64)) -> bytes:
    out = io.BytesIO()
    mode = "RGBA" if fmt == "WEBP" else "RGB"
    Image.new(mode, size, (200, 30, 60) + ((128,) if mode == "RGBA" else ())).save(out, fmt)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


def m4a_aac(seconds: float = 2.0, rate: int = 44100) -> bytes:
    """An iPhone-style voice memo: AAC in an MP4 (M4A) container, stereo."""
    out = io.BytesIO()
    with av.open(out, "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=rate, layout="stereo")
        step, done = 1024, 0
        while done < int(seconds * rate):
            frame = av.AudioFrame(format="s16", layout="stereo", samples=step)
            tone = (
                int(6000 * math.sin(2 * math.pi * 330 * (done + i // 2) / rate))
                for i in range(2 * step)
            )
            frame.planes[0].update(struct.pack(f"<{2 * step}h", *tone))
            frame.sample_rate = rate
            frame.pts, frame.time_base = done, Fraction(1, rate)
            done += step
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()
