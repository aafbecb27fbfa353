"""Turning WhatsApp media into a format GHL's upload accepts (ghl_upload.py), where a well-kept
library does it well:

- audio GHL refuses (voice notes are OGG/Opus; also M4A, AAC, AMR, WebM) -> MP3, with PyAV;
- WEBP stickers and other images -> PNG, HEIC/HEIF iPhone photos -> JPEG, with Pillow (and
  pillow-heif, which registers the HEIF decoder with Pillow).

Everything here is blocking CPU work: callers run it in a thread. A file nothing here converts
(an XLSX, a 3GP video, a corrupt file) gives None, and the bridge links it instead.
"""

from __future__ import annotations

import io
import logging
import mimetypes
from dataclasses import dataclass
from fractions import Fraction

import av
import pillow_heif
from PIL import Image

from ghl_app.bridge.media.ghl_upload import accepted_type, base_type, upload_name

log = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

# MPEG-1/2 layer III sample rates (libmp3lame refuses others, e.g. 8 kHz AMR is resampled).
_MP3_RATES = (48000, 44100, 32000, 24000, 22050, 16000)
_VOICE_BIT_RATE = 64_000  # plenty for speech, a minute is under 0.5 MB
_HEIF_TYPES = ("image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence")


@dataclass(frozen=True)
class Prepared:
    """A file in a form GHL's upload accepts."""

    data: bytes
    mimetype: str
    filename: str
    duration_s: float | None = None  # audio only
    converted_from: str | None = None  # the WhatsApp content type, when converted


def prepare_for_ghl(data: bytes, mimetype: str, filename: str) -> Prepared | None:
    """The file as-is when GHL accepts its type, converted when that works, else None."""
    kind = base_type(mimetype)
    if kind in ("application/octet-stream", ""):
        # WhatsApp Web leaves some documents untyped: the name still says what they are.
        kind = base_type(mimetypes.guess_type(filename)[0] or kind)
    accepted = accepted_type(kind)
    try:
        if accepted is not None:
            duration = audio_duration(data) if kind.startswith("audio/") else None
            return Prepared(data, accepted, upload_name(filename, accepted), duration)
        if kind.startswith("audio/"):
            mp3, duration = audio_to_mp3(data)
            return Prepared(
                mp3,
                "audio/mpeg",
                upload_name(filename, "audio/mpeg"),
                duration,
                converted_from=kind,
            )
        if kind in _HEIF_TYPES:
            jpeg = image_to(data, "JPEG")
            return Prepared(jpeg, "image/jpeg", upload_name(filename, "image/jpeg"), None, kind)
        if kind.startswith("image/"):
            png = image_to(data, "PNG")
            return Prepared(png, "image/png", upload_name(filename, "image/png"), None, kind)
    except (av.FFmpegError, OSError, ValueError, Image.DecompressionBombError) as exc:
        # A file the library cannot read is linked as it came: nothing is lost.
        log.warning("media conversion from %s failed: %s", kind, exc)
    return None


def audio_duration(data: bytes) -> float | None:
    """Seconds, when the container says (a file GHL takes as it is still goes if not)."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            if container.duration is None:
                return None
            return float(container.duration / av.time_base)
    except (av.FFmpegError, OSError, ValueError):
        return None


def audio_to_mp3(data: bytes) -> tuple[bytes, float]:
    """(MP3 bytes, duration in seconds) of the first audio stream."""
    out = io.BytesIO()
    with av.open(io.BytesIO(data), "r") as source, av.open(out, "w", format="mp3") as target:
        if not source.streams.audio:
            raise ValueError("no audio stream")
        audio = source.streams.audio[0]
        rate = audio.rate if audio.rate in _MP3_RATES else 44100
        layout = "mono" if audio.channels == 1 else "stereo"
        # LAME's speed/quality 7: ~0.8 s of CPU per minute of speech here, against ~1.2 s at the
        # default, with no audible loss for a voice at 64 kbit/s (measured, issue 13 report).
        stream = target.add_stream(
            "libmp3lame", rate=rate, layout=layout, options={"compression_level": "7"}
        )
        stream.bit_rate = _VOICE_BIT_RATE if layout == "mono" else 2 * _VOICE_BIT_RATE
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        samples = 0
        for frame in source.decode(audio):
            for chunk in resampler.resample(frame):
                chunk.pts = samples
                chunk.time_base = Fraction(1, rate)
                samples += chunk.samples
                target.mux(stream.encode(chunk))
        for chunk in resampler.resample(None):
            chunk.pts = samples
            chunk.time_base = Fraction(1, rate)
            samples += chunk.samples
            target.mux(stream.encode(chunk))
        target.mux(stream.encode(None))
    if samples == 0:
        raise ValueError("no audio decoded")
    return out.getvalue(), samples / rate


def image_to(data: bytes, fmt: str) -> bytes:
    """The first frame (an animated sticker shows its first frame) as PNG or JPEG."""
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)
        frame = image.copy()
    if fmt == "JPEG":
        frame = frame.convert("RGB")
    elif frame.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        frame = frame.convert("RGBA")
    out = io.BytesIO()
    frame.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {"optimize": True}))
    return out.getvalue()
