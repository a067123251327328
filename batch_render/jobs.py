"""The batch render job without Blender: inputs, output names, atomic publishing, resume, progress.

Pure module (no bpy): ``bl_render`` does the Blender half. Only the standard library is used, so it runs
inside Blender's own Python as well as in the project's virtual environment. ``ffprobe`` (from ffmpeg)
is used when it is on the PATH to check audio inputs and finished videos; without it a structural MP4
check stands in.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from au_contract.errors import OptionsError
from au_contract.transcripts import read_sidecar

from .errors import BatchError
from .outputs import PARTIAL_SUFFIX, partial_path, remove_stale_partials  # noqa: F401 (old home of these names)

#: File suffixes picked up when a folder is given as input (a file named explicitly is always tried).
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".aif", ".aiff"})
#: Suffixes the model server cannot decode: converted to WAV inside Blender before the request.
CONVERTED_SUFFIXES = frozenset({".m4a", ".aac", ".mp4"})


@dataclass(frozen=True)
class BatchItem:
    """One input of a batch job.

    Attributes:
        audio: the speech file to animate.
        output: the final MP4 path (written atomically; never half-written).
        transcript: the line's text from ``<audio stem>.txt`` beside it (dialog mode), "" when none.
    """

    audio: Path
    output: Path
    transcript: str = ""


@dataclass
class BatchOptions:
    """Everything the Blender side needs to render a batch.

    Attributes:
        items: what to render, in order.
        blend: a .blend holding a rig (``scene.au_talking_head.rig``) and a camera; ``None`` builds the
            default scene (generated rig, camera, world) for each item.
        fps: frames per second of the video (also the tracks' rate); ``None`` keeps the .blend's own
            (default scene: 30).
        emotion: one of ``au_contract.EMOTIONS``.
        strength: emotion strength in [0, 1].
        resolution: (width, height) in pixels; ``None`` keeps the .blend's own (default scene: 512x512).
        force: re-render even when a valid MP4 already sits under the final name.
        server_url: model server to use; ``None``: use or start a local one.
        engine: render engine id; ``None``: the .blend's own, or the Gaussian splat engine for the default
            scene.
        samples: render samples for Cycles/EEVEE (ignored by the splat engine); ``None`` keeps the scene's.
        language: language of the transcripts (``<stem>.txt`` beside each audio file; an espeak-ng voice code,
            a language tag or name such as ``fr``, ``de-DE``, ``French``); ``None`` keeps the .blend's panel
            setting (default scene: ``en``).
        precise: the server's precise mode for every line (``model_server.views``); ``None`` keeps the
            .blend's *Precise Lips* toggle (default scene: off).
    """

    items: list[BatchItem]
    blend: Path | None = None
    fps: float | None = None
    emotion: str = "NEUTRAL"
    strength: float = 1.0
    resolution: tuple[int, int] | None = None
    force: bool = False
    server_url: str | None = None
    engine: str | None = None
    samples: int | None = None
    language: str | None = None
    precise: bool | None = None


@dataclass
class ItemResult:
    """How one item ended: ``status`` is ``"rendered"``, ``"skipped"`` or ``"failed"``.

    ``message`` says why it failed or was skipped, or, for a rendered item, what the user should know (its
    transcript was not, or only partly, used). ``seconds`` is the whole item (scene, tracks, render,
    checks); ``render_s`` the frame rendering and encoding alone; ``engine`` the render engine used.
    """

    item: BatchItem
    status: str
    message: str = ""
    frames: int = 0
    seconds: float = 0.0
    render_s: float = 0.0
    engine: str = ""


@dataclass
class BatchReport:
    """All item results of a job, in input order."""

    results: list[ItemResult] = field(default_factory=list)

    @property
    def failed(self) -> list[ItemResult]:
        return [r for r in self.results if r.status == "failed"]

    def exit_code(self) -> int:
        """0 when every item was rendered or skipped, 1 otherwise."""
        return 1 if self.failed else 0

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in ("rendered", "skipped", "failed")}
        lines = [f"{counts['rendered']} rendered, {counts['skipped']} skipped (already done), "
                 f"{counts['failed']} failed"]
        lines += [f"  FAILED {r.item.audio}: {r.message}" for r in self.failed]
        lines += [f"  NOTE {r.item.audio}: {r.message}" for r in self.results
                  if r.status == "rendered" and r.message]
        return "\n".join(lines)


def collect_items(inputs: Sequence[Path], out_dir: Path) -> list[BatchItem]:
    """Expand files and folders into batch items, one MP4 per audio file, named from the audio stem.

    A folder contributes its files with an audio suffix (``AUDIO_SUFFIXES``, not recursive, sorted by
    name); a file given by name is always an item, whatever its suffix (a bad one fails on its own).
    Two inputs with the same stem get ``stem_2``, ``stem_3``... in input order, so names are stable
    between runs (resuming relies on it). A UTF-8 ``<stem>.txt`` beside an audio file is its transcript
    (``au_contract.transcripts``, dialog mode).

    Raises:
        BatchError: if an input does not exist, nothing at all was found, or a transcript file is not
            UTF-8 text of at most 4096 bytes.
    """
    audio: list[Path] = []
    for path in inputs:
        path = Path(path)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise BatchError(f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in folder {path}")
            audio.extend(found)
        elif path.exists():
            audio.append(path)
        else:
            raise BatchError(f"input not found: {path}")
    if not audio:
        raise BatchError("no inputs: give audio files or a folder of them")
    items: list[BatchItem] = []
    used: set[str] = set()
    for path in audio:
        name, n = path.stem, 1
        while name.lower() in used:
            n += 1
            name = f"{path.stem}_{n}"
        used.add(name.lower())
        try:
            transcript = read_sidecar(path)
        except OptionsError as exc:
            raise BatchError(f"{path.name}: {exc}") from exc
        items.append(BatchItem(path.resolve(), (Path(out_dir) / f"{name}.mp4").resolve(), transcript))
    return items


def needs_conversion(path: Path) -> bool:
    """True for AAC audio (``.m4a``/``.aac``/``.mp4``, or an MP4/ADTS header): the model server's decoder
    (libsndfile) cannot read it, so the Blender side converts it to WAV first (Blender's own FFmpeg)."""
    if path.suffix.lower() in CONVERTED_SUFFIXES:
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return (len(head) >= 12 and head[4:8] == b"ftyp") or (len(head) >= 2 and head[0] == 0xFF
                                                          and head[1] & 0xF6 == 0xF0)


def publish(partial: Path, final: Path) -> None:
    """Atomically move a finished, checked render to its final name (same file system: ``os.replace``).

    Raises:
        BatchError: if ``partial`` is not a valid video; it is deleted and ``final`` is left untouched.
    """
    problem = video_problem(partial)
    if problem:
        partial.unlink(missing_ok=True)
        raise BatchError(f"the render produced no valid video ({problem})")
    os.replace(partial, final)


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about a media file (codec names as ffprobe spells them, e.g. ``"h264"``)."""

    video_codec: str | None
    audio_codec: str | None
    duration_s: float
    width: int = 0
    height: int = 0


def probe(path: Path) -> MediaInfo | None:
    """Probe ``path`` with ffprobe; ``None`` if ffprobe is missing.

    Raises:
        BatchError: if ffprobe cannot read the file as media.
    """
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    proc = subprocess.run([exe, "-v", "error", "-show_entries",
                          "format=duration:stream=codec_type,codec_name,width,height,duration",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "unreadable"
        reason = reason.replace(f"{path}: ", "")
        raise BatchError(f"not a readable media file: {path.name} ({reason})")
    data = json.loads(proc.stdout or "{}")
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    durations = [float(x) for x in [data.get("format", {}).get("duration")]
                 + [s.get("duration") for s in streams] if _is_number(x)]
    return MediaInfo(video_codec=video.get("codec_name") if video else None,
                     audio_codec=audio.get("codec_name") if audio else None,
                     duration_s=max(durations, default=0.0),
                     width=int(video.get("width", 0)) if video else 0,
                     height=int(video.get("height", 0)) if video else 0)


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def check_audio(path: Path) -> float | None:
    """Check that ``path`` is a readable audio file before any work is spent on it.

    Returns:
        the duration in seconds, or ``None`` when ffprobe is not available (the server then checks).

    Raises:
        BatchError: with an actionable message if the file is empty, unreadable or has no audio stream.
    """
    if not path.is_file():
        raise BatchError(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise BatchError(f"empty file: {path.name}")
    try:
        info = probe(path)
    except BatchError as exc:
        raise BatchError(f"{exc}; give a speech recording (WAV, FLAC, OGG or MP3)") from None
    if info is None:
        return None
    if info.audio_codec is None:
        raise BatchError(f"no audio stream in {path.name}; give a speech recording (WAV, FLAC, OGG or MP3)")
    if info.duration_s <= 0.0:
        raise BatchError(f"audio of zero length: {path.name}")
    return info.duration_s


def video_problem(path: Path) -> str:
    """Say what is wrong with a finished MP4, or ``""`` if it is valid (H.264 video, non-zero length).

    With ffprobe the streams are checked; without it, the MP4 must hold ``ftyp`` and ``moov`` boxes (an
    interrupted ffmpeg write has no ``moov``).
    """
    if not path.is_file():
        return "missing"
    if path.stat().st_size == 0:
        return "empty file"
    try:
        info = probe(path)
    except BatchError as exc:
        return str(exc)
    if info is None:
        boxes = mp4_top_level_boxes(path)
        return "" if {"ftyp", "moov"} <= set(boxes) else f"incomplete MP4 (top-level boxes: {boxes})"
    if info.video_codec != "h264":
        return f"video codec is {info.video_codec}, expected h264"
    if info.duration_s <= 0.0:
        return "zero duration"
    return ""


def mp4_top_level_boxes(path: Path) -> list[str]:
    """Names of the top-level ISO-BMFF boxes of ``path`` (stops at the first malformed box)."""
    names: list[str] = []
    size_total = path.stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size_total:
            f.seek(offset)
            size, kind = struct.unpack(">I4s", f.read(8))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0]
            elif size == 0:
                size = size_total - offset
            if size < 8 or offset + size > size_total:
                break
            names.append(kind.decode("latin-1"))
            offset += size
    return names


def parse_resolution(text: str) -> tuple[int, int]:
    """Parse ``"512x512"`` into (width, height).

    Raises:
        ValueError: if the text is not ``WxH`` with both sides in 16..8192.
    """
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"resolution must look like 512x512, got {text!r}") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ValueError(f"resolution sides must be 16..8192 pixels, got {text!r}")
    return width, height


def frames_for_duration(duration_s: float, fps: float) -> int:
    """Number of frames that cover ``duration_s`` of audio at ``fps`` (at least 1)."""
    return max(1, int(-(-round(duration_s * fps * 1000) // 1000)))


def progress_line(index: int, total: int, name: str, frame: int, frames: int, elapsed_s: float) -> str:
    """The console progress line, e.g. ``[2/5] hello.wav  frame 37/240  15%  0.21 s/frame  ETA 43 s``."""
    per = elapsed_s / frame if frame else 0.0
    eta = per * (frames - frame)
    pct = 100.0 * frame / frames if frames else 100.0
    return (f"[{index}/{total}] {name}  frame {frame}/{frames}  {pct:3.0f}%  "
            f"{per:.2f} s/frame  ETA {eta:.0f} s")

