"""An audio reply from GHL as a WhatsApp voice note (issue 16): WhatsApp plays a voice note
(PTT) only as OGG/Opus (what its own recorder makes, mono), so other audio is converted with
PyAV first; an OGG/Opus file goes as it is."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
from dataclasses import dataclass
from fractions import Fraction

import av

from ghl_app.models import Message

log = logging.getLogger(__name__)

VOICE_MIMETYPE = "audio/ogg; codecs=opus"
_RATE = 48000  # Opus runs at 48 kHz (RFC 7587); WhatsApp's own notes are 48 kHz mono
_BIT_RATE = 32_000  # speech, as WhatsApp's recorder: ~16-32 kbit/s


@dataclass(frozen=True, slots=True)
class VoiceNote:
    data: bytes
    mimetype: str
    filename: str
    seconds: float


def _is_ogg_opus(data: bytes) -> float | None:
    """The duration of an OGG/Opus file, None when it is something else."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            audio = container.streams.audio
            if "ogg" not in container.format.name or not audio or audio[0].codec.name != "opus":
                return None
            if container.duration is None:
                return 0.0
            return float(container.duration / av.time_base)
    except (av.FFmpegError, OSError, ValueError):
        return None


def _stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0] if "." in filename else filename or "voice-note"


def prepare(data: bytes, filename: str) -> VoiceNote:
    """The audio as an OGG/Opus voice note; ValueError when it holds no audio."""
    seconds = _is_ogg_opus(data)
    name = f"{_stem(filename)}.ogg"
    if seconds is not None:
        return VoiceNote(data, VOICE_MIMETYPE, name, seconds)
    out = io.BytesIO()
    try:
        with av.open(io.BytesIO(data), "r") as source, av.open(out, "w", format="ogg") as target:
            if not source.streams.audio:
                raise ValueError("no audio stream")
            stream = target.add_stream("libopus", rate=_RATE, layout="mono")
            stream.bit_rate = _BIT_RATE
            resampler = av.AudioResampler(format="s16", layout="mono", rate=_RATE)
            samples = 0
            decoded = source.decode(source.streams.audio[0])
            for frame in itertools.chain(decoded, [None]):  # None flushes the resampler
                for chunk in resampler.resample(frame):
                    chunk.pts, chunk.time_base = samples, Fraction(1, _RATE)
                    samples += chunk.samples
                    target.mux(stream.encode(chunk))
            target.mux(stream.encode(None))
    except av.FFmpegError as exc:
        raise ValueError(f"not audio PyAV can read: {exc}") from exc
    if samples == 0:
        raise ValueError("no audio decoded")
    return VoiceNote(out.getvalue(), VOICE_MIMETYPE, name, samples / _RATE)


async def as_voice_note(data: bytes, mimetype: str, filename: str) -> VoiceNote | None:
    """An audio attachment as a voice note; None for other files, and for audio PyAV cannot
    read (it then goes as the file it is, never lost)."""
    if not mimetype.lower().startswith("audio/"):
        return None
    try:
        return await asyncio.to_thread(prepare, data, filename)
    except ValueError as exc:
        log.warning("audio reply not convertible to a voice note, sent as a file: %s", exc)
        return None


async def remember_duration(message_id: int, location_id: str, seconds: float) -> None:
    """The number's journey shows how long the voice note it sent is."""
    row = await Message.get_or_none(id=message_id, location_id=location_id)
    if row is not None:
        row.media = {**(row.media or {}), "voice_seconds": round(seconds, 1)}
        await row.save(update_fields=["media", "updated_at"])
