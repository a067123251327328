"""Stage 1: audio file bytes -> mono float32 samples at 16 kHz, with every kind of bad input rejected.

libsndfile (through ``soundfile``, 1.1 or newer) reads WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF and more
from memory; nothing is written to disk and no external process runs. Channels are averaged block by
block while reading, then soxr resamples to 16 kHz (high quality, anti-aliased). Every failure is an
:class:`AudioError` with a machine code (the HTTP ``error`` field) and a message saying what to do.
"""

from __future__ import annotations

import io
import logging
import math
import re
from dataclasses import dataclass

import numpy as np

from .errors import ModelServerError

log = logging.getLogger(__name__)

TARGET_RATE = 16000
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 384000
MAX_CHANNELS = 64
DEFAULT_MAX_DURATION_S = 3600.0
_BLOCK_FRAMES = 1 << 18
#: What libsndfile reads, as messages name it.
SUPPORTED_FORMATS = "WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF"


class AudioError(ModelServerError, ValueError):
    """Input audio that cannot be used.

    Attributes:
        code: short machine-readable reason, e.g. ``"not_audio"``, ``"too_long"``.
        message: human text that says what is wrong and what to do.
        status: the HTTP status the server answers with (4xx).
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class DecodedAudio:
    """Decoded audio ready for the model.

    Attributes:
        samples: float32 array [N], mono, TARGET_RATE Hz, nominally in [-1, 1].
        sample_rate: always TARGET_RATE.
        source_rate: the file's sample rate in Hz.
        source_channels: the file's channel count.
        source_format: libsndfile's format name, e.g. ``"WAV"``, ``"MP3"``.
        duration_s: duration in seconds (source frames / source rate).
    """

    samples: np.ndarray  # [N] float32
    sample_rate: int
    source_rate: int
    source_channels: int
    source_format: str
    duration_s: float


def decode_audio(data: bytes | bytearray, max_duration_s: float = DEFAULT_MAX_DURATION_S) -> DecodedAudio:
    """Decode an audio file held in memory.

    Args:
        data: the whole file (WAV, FLAC, OGG, MP3, ...), any sample rate, mono or multichannel.
        max_duration_s: longest accepted duration in seconds.

    Returns:
        The mono 16 kHz samples and facts about the source.

    Raises:
        AudioError: empty body, not audio, truncated/corrupt data, absurd sample rate or channel
            count, NaN/Inf samples, or longer than ``max_duration_s`` (code ``"too_long"``, 413).
    """
    import soundfile as sf

    if not data:
        raise AudioError("empty_body", "The audio is empty (0 bytes). Over HTTP, send the audio file itself "
                         "as the body (for example curl --data-binary @speech.wav).")
    try:
        handle = sf.SoundFile(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        container = aac_container(data)
        if container:
            raise AudioError("not_audio", f"This is {container} audio, which this server cannot decode "
                             f"(supported: {SUPPORTED_FORMATS}). Convert it first, for example "
                             "ffmpeg -i line.m4a line.flac (the batch renderer converts it "
                             "itself).") from exc
        raise AudioError("not_audio", f"This is not a readable audio file (supported: {SUPPORTED_FORMATS}; "
                         f"decoder said: {_short(exc)}). Check the file, and over HTTP that its "
                         "bytes were sent unchanged as the body.") from exc
    with handle:
        rate, channels, frames, fmt = handle.samplerate, handle.channels, handle.frames, handle.format
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise AudioError("bad_sample_rate", f"The file declares a sample rate of {rate} Hz; accepted "
                             f"rates are {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz. Re-export the audio at "
                             "a normal rate such as 16000, 44100 or 48000 Hz.")
        if not 1 <= channels <= MAX_CHANNELS:
            raise AudioError("bad_channels", f"The file declares {channels} channels; 1 to {MAX_CHANNELS} "
                             "are accepted. Re-export it as mono or stereo.")
        # The header's frame count may be absent (-1 / huge for streams) or lie: enforce it while reading.
        max_frames = math.floor(max_duration_s * rate) + 1
        if 0 < frames < (1 << 62) and frames > max_frames:
            raise _too_long(frames / rate, max_duration_s)
        mono = _read_mono(handle, channels, max_frames, max_duration_s)
        truncated = _truncation(handle.extra_info, frames, mono.size)
    if truncated:
        raise AudioError("truncated", f"The audio file is truncated ({truncated}). Send the complete file; "
                         "if it was being written or downloaded, wait until that has finished.")
    if mono.size == 0:
        raise AudioError("no_samples", "The audio file contains no samples (zero length or truncated "
                         "before the first sample). Send a file with at least a few milliseconds of sound.")
    peak = _peak(mono)  # NaN or inf when any sample is
    if not math.isfinite(peak):
        raise AudioError("non_finite", "The audio contains NaN or infinite sample values; the file is "
                         "corrupt or was written from broken data. Re-export it from the original.")
    duration_s = mono.size / rate
    if peak > 1e6:
        raise AudioError("bad_samples", f"The audio's peak value is {peak:.3g}, far beyond full scale (1.0): "
                         "the float data is corrupt or not audio. Re-export it normalised.")
    samples = _resample(mono, rate)
    if samples is not mono:
        peak = _peak(samples)
    if not math.isfinite(peak):
        raise AudioError("bad_samples", "The audio could not be resampled to finite values: the float data "
                         "is corrupt. Re-export it as 16- or 24-bit PCM.")
    if peak > 1.0:
        samples = samples / peak  # float files may exceed full scale: scale down rather than clip
    return DecodedAudio(samples=samples.astype(np.float32, copy=False), sample_rate=TARGET_RATE,
                        source_rate=int(rate), source_channels=int(channels), source_format=str(fmt),
                        duration_s=float(duration_s))


def aac_container(data: bytes | bytearray) -> str:
    """``"AAC/M4A (MP4)"`` or ``"AAC (ADTS)"`` when ``data`` starts like one of those files, else ``""``.

    libsndfile reads neither; they are recognised only to say so plainly instead of "not audio".
    """
    head = bytes(data[:12])
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "AAC/M4A (MP4)"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "AAC (ADTS)"
    return ""


def _read_mono(handle: object, channels: int, max_frames: int, max_duration_s: float) -> np.ndarray:
    """Read all frames, averaging channels block by block (bounded memory); [N] float32."""
    import soundfile as sf

    blocks: list[np.ndarray] = []
    total = 0
    while True:
        try:
            block = handle.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)  # type: ignore[attr-defined]
        except (sf.LibsndfileError, RuntimeError, ValueError, MemoryError) as exc:
            raise AudioError("corrupt_audio", "The audio data is truncated or corrupt (decoder said: "
                             f"{_short(exc)}). Re-export or re-download the file.") from exc
        if block.shape[0] == 0:
            break
        total += block.shape[0]
        if total > max_frames:
            raise _too_long(total / handle.samplerate, max_duration_s)  # type: ignore[attr-defined]
        blocks.append(_downmix(block))
    if not blocks:
        return np.zeros(0, np.float32)
    return np.concatenate(blocks)


def _downmix(block: np.ndarray) -> np.ndarray:
    """Mean of the channels of a [F, C] float32 block: [F] float32, summed column by column.

    Equal to ``block.mean(axis=1)`` (the same additions in the same order for up to 8 channels) but
    about 20x faster: a reduction over a short inner axis is slow in numpy, adding columns is not.
    """
    out = block[:, 0].copy()
    for c in range(1, block.shape[1]):
        out += block[:, c]
    if block.shape[1] > 1:
        out /= np.float32(block.shape[1])
    return out


def _peak(samples: np.ndarray) -> float:
    """Largest absolute sample value (0 for no samples; NaN or inf when a sample is) without a temporary."""
    if samples.size == 0:
        return 0.0
    return max(float(samples.max()), -float(samples.min()))


_WAV_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _truncation(info: str, declared_frames: int, read_frames: int) -> str:
    """Return why a file looks truncated (from libsndfile's header log and frame counts), or ``""``.

    Streaming writers put 0 or 0xFFFFFFFF in a WAV's data size: those are accepted. A declared frame
    count more than 5% (and 1024 frames) above what could be read means data is missing (MP3 with a
    Xing/Info header, for example); an OGG whose last page lacks the end-of-stream flag was cut off.
    """
    match = _WAV_DATA.search(info)
    if match:
        declared, actual = int(match.group(1)), int(match.group(2))
        if actual < declared < 0x7FFFFFFF:
            return f"the header declares {declared} data bytes but only {actual} are present"
    if "lacks an end-of-stream" in info:
        return "the last OGG page lacks its end-of-stream flag"
    if 0 < declared_frames < (1 << 62) and read_frames < declared_frames * 0.95 - 1024:
        return f"the header declares {declared_frames} frames but only {read_frames} could be decoded"
    return ""


def _resample(mono: np.ndarray, rate: int) -> np.ndarray:
    """Resample [N] float32 at ``rate`` Hz to TARGET_RATE with soxr (anti-aliased)."""
    if rate == TARGET_RATE:
        return mono
    import soxr

    return np.asarray(soxr.resample(mono, rate, TARGET_RATE, quality="HQ"), dtype=np.float32)


def _too_long(seconds: float, max_duration_s: float) -> AudioError:
    return AudioError("too_long", f"The audio is at least {seconds:.1f} s long; this server accepts at most "
                      f"{max_duration_s:.0f} s. Split the file into shorter parts or start the server with "
                      "a larger --max-duration.", status=413)


def _short(exc: BaseException) -> str:
    text = re.sub(r"Error opening <[^>]*>: ", "", str(exc)).strip().replace("\n", " ")
    return text[:160] if text else type(exc).__name__
