"""Request options of one prediction, defined once: names, defaults, ranges and help text per field.

:class:`RequestOptions` is the one definition behind every way an option enters the product:

- the ``predict`` CLI flags (``au_contract.option_flags``: ``add_arguments``, ``options_from_namespace``);
- the query string of ``POST /v1/tracks`` (:meth:`RequestOptions.from_query`, ``option_flags.parse_query``
  and ``option_flags.openapi_parameters``);
- the add-on's HTTP client (:meth:`RequestOptions.to_query`, validated before sending);
- the add-on's panel and operator properties (defaults and ranges read from :data:`SPECS`);
- the batch renderer's ``--fps/--emotion/--strength`` (``option_flags.add_arguments`` with a subset).

Every path turns values (Python values or their text) into options with :func:`check_value`, so the same
bad value gives the same message everywhere (``fps=1000`` over HTTP, ``--fps 1000`` on the command line
and ``RequestOptions(fps=1000)`` in the client all say
``"fps must be a number from 1 to 240, got 1000.0"``).

Ranges and why:

- ``fps`` 1..240: real frame rates (23.976 .. 240); 1000 fps x 10 minutes of audio once exhausted the
  server's memory.
- the frame cap :data:`MAX_FRAMES` (360,000: 25 minutes at 240 fps, 3 h 20 min at 30 fps) bounds
  ``frame_count = max(1, round(duration_s * fps))`` of one request; :meth:`RequestOptions.check_frames`
  applies it as soon as the audio's duration is known (after decoding, before any model work). Code
  ``too_many_frames``.
- ``strength`` and ``smoothing`` 0..1; ``seed`` 0..2**63-1 (a signed 64-bit integer); ``emotion`` one of
  :data:`au_contract.EMOTIONS`, any case.

Pure module (standard library only).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .action_units import EMOTIONS
from .errors import BAD_PARAMETER, TOO_MANY_FRAMES, OptionsError

MIN_FPS = 1.0
MAX_FPS = 240.0
DEFAULT_FPS = 30.0
#: Most frames one request may produce (``frame_count`` of one au-tracks/1 document).
MAX_FRAMES = 360_000
MAX_SEED = 2**63 - 1
#: Longest transcript of one request, UTF-8 bytes (a line of dialog is far shorter).
MAX_TRANSCRIPT_BYTES = 4096
DEFAULT_LANGUAGE = "en"
#: Free-text options the command line reads from a UTF-8 file (``--transcript-file``).
FILE_OPTIONS = ("transcript",)

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class OptionSpec:
    """One option's definition (read from :class:`RequestOptions`'s field metadata).

    Attributes:
        name: field name = query parameter = CLI flag stem (``--fps``; ``--no-blinks`` for switches).
        kind: ``float``, ``int``, ``bool`` or ``str``.
        default: value when not given.
        help: one line for people (CLI help, OpenAPI description, tooltips).
        minimum, maximum: inclusive range of numbers (None: unbounded).
        choices: accepted values of a text option (compared case-insensitively, stored upper case).
        range_text: the range as written in messages (``"from 1 to 240"``).
        max_bytes: free text (a ``str`` option without choices): longest accepted UTF-8 length.
        pattern: free text: a regular expression the whole value must match ("" = any text).
    """

    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    range_text: str = ""
    max_bytes: int = 0
    pattern: str = ""


def _option(default: Any, help_text: str, minimum: float | None = None, maximum: float | None = None,
            choices: tuple[str, ...] = (), range_text: str = "", max_bytes: int = 0, pattern: str = ""
            ) -> Any:
    meta = {"help": help_text, "minimum": minimum, "maximum": maximum, "choices": choices,
            "range_text": range_text, "max_bytes": max_bytes, "pattern": pattern}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class RequestOptions:
    """Options of one prediction (``POST /v1/tracks`` query, ``predict`` flags, the add-on's request).

    Construct with plain values; :meth:`validated` checks them. Field metadata holds each option's help
    text and range (see :data:`SPECS`).

    Attributes:
        fps: output frame rate, 1..240, fractional allowed (29.97).
        emotion: one of ``au_contract.EMOTIONS`` (any case; stored upper case once validated).
        strength: emotion strength, 0..1.
        seed: seed of blinks and brow raises, 0..2**63-1: same seed + same audio = same tracks.
        blinks: add blinks (AU45) and rare long closures at phrase ends (AU43).
        prosody: add brow raises (AU01/AU02) on pitch accents.
        smoothing: extra temporal smoothing of the speech AUs, 0..1 (1 = a 60 ms Gaussian).
        landmarks: include the 68 iBUG landmarks per frame.
        precise: precise mode (``model_server.views``): the acoustic model hears the recording three ways
            (as it is, and with every frequency scaled by 0.9 and 1.1) and averages; about twice the model's
            time.
        transcript: the line's text (dialog mode, ``model_server.dialog``): at most
            :data:`MAX_TRANSCRIPT_BYTES` of UTF-8, no NUL; "" = none. A text that does not match the audio
            is never an error: the server answers audio-only tracks with a warning in ``meta["dialog"]``.
        language: espeak-ng voice code, language tag or language name of the transcript (``en``, ``de``,
            ``fr``, ``en-US``, ``pt-BR``, ``zh``, ``French``, ``Spanish (Latin America)``, ``Deutsch``...:
            ``model_server.voices.resolve_voice``); letters (any script), digits, spaces and ``-_+(),``
            only, at most 64 bytes of UTF-8. A language no espeak-ng voice is found for is a warning.
    """

    fps: float = _option(DEFAULT_FPS, "output frame rate, fractional allowed (29.97)", MIN_FPS, MAX_FPS)
    emotion: str = _option("NEUTRAL", "emotion preset mixed into the tracks (any case)", choices=EMOTIONS)
    strength: float = _option(1.0, "emotion strength", 0.0, 1.0)
    seed: int = _option(0, "seed of blinks and brow raises: same seed + same audio = same tracks",
                        0, MAX_SEED, range_text="from 0 to 2**63-1")
    blinks: bool = _option(True, "add blinks (AU45) and rare long closures at phrase ends (AU43)")
    prosody: bool = _option(True, "add brow raises (AU01/AU02) on pitch accents")
    smoothing: float = _option(0.0, "extra smoothing of the speech AUs (1 = a 60 ms Gaussian)", 0.0, 1.0)
    landmarks: bool = _option(True, "include the 68 iBUG landmarks per frame")
    precise: bool = _option(False, "precise lips: the model also hears the voice as from a longer and a "
                            "shorter vocal tract (every frequency x0.9 and x1.1) and averages: deeper "
                            "closures, fewer false ones, about twice the model time")
    transcript: str = _option("", "the line's transcript (dialog mode): the lips hit its consonants",
                              max_bytes=MAX_TRANSCRIPT_BYTES, range_text=f"UTF-8, at most "
                              f"{MAX_TRANSCRIPT_BYTES} bytes")
    language: str = _option(DEFAULT_LANGUAGE, "transcript language: espeak-ng voice, tag or name (en, en-US, "
                            "French)", max_bytes=64, pattern=r"[^\W_][\w +(),-]*",
                            range_text="an espeak-ng voice code, language tag or name such as en, de, en-US, "
                                       "zh, French, Español")

    def validated(self) -> RequestOptions:
        """Return a copy with every option checked and normalised (same class as ``self``).

        Raises:
            OptionsError: code ``bad_parameter``, naming the first bad option and its accepted range.
        """
        values = {spec.name: check_value(spec.name, getattr(self, spec.name)) for spec in SPECS.values()}
        return dataclasses.replace(self, **values)

    @classmethod
    def from_query(cls, items: Iterable[tuple[str, str]]) -> RequestOptions:
        """Parse and validate the query parameters of ``POST /v1/tracks``.

        Args:
            items: (name, text) pairs in order, repeats included (``request.query_params.multi_items()``).

        Raises:
            OptionsError: an unknown or repeated parameter, or a bad value (code ``bad_parameter``).
        """
        pairs = list(items)
        unknown = sorted({name for name, _ in pairs if name not in SPECS})
        if unknown:
            raise OptionsError(f"Unknown query parameter(s) {unknown}; accepted: {sorted(SPECS)}.")
        given: dict[str, str] = {}
        for name, text in pairs:
            if name in given:
                raise OptionsError(f"query parameter {name} is given more than once; give it once")
            given[name] = text
        return cls(**given).validated()  # type: ignore[arg-type]

    def to_query(self) -> dict[str, str]:
        """Return every option as query text (what :meth:`from_query` reads back to the same options)."""
        return {spec.name: _text(getattr(self, spec.name)) for spec in SPECS.values()}

    def check_frames(self, duration_s: float) -> int:
        """Return the frame count of ``duration_s`` of audio at this ``fps``, within :data:`MAX_FRAMES`.

        Raises:
            OptionsError: code ``too_many_frames`` when the audio at this rate is more frames than one
                request may produce.
        """
        count = frame_count(duration_s, float(self.fps))
        if count > MAX_FRAMES:
            raise OptionsError(
                f"{duration_s:.1f} s of audio at {float(self.fps):g} fps is {count} frames, more than the "
                f"{MAX_FRAMES} one request may produce: lower the fps or split the audio into parts of at "
                f"most {max_duration_s(float(self.fps)):.0f} s", code=TOO_MANY_FRAMES)
        return count


def frame_count(duration_s: float, fps: float) -> int:
    """Frames covering ``duration_s`` at ``fps``: ``max(1, round(duration_s * fps))`` (halves round up)."""
    return max(1, math.floor(duration_s * fps + 0.5))


def max_duration_s(fps: float) -> float:
    """Longest audio (seconds) one request may cover at ``fps`` without passing :data:`MAX_FRAMES`."""
    return (MAX_FRAMES - 0.5) / fps


def _spec(f: dataclasses.Field) -> OptionSpec:
    meta = f.metadata
    minimum, maximum = meta["minimum"], meta["maximum"]
    kind = type(f.default)
    range_text = meta["range_text"] or (f"from {minimum:g} to {maximum:g}" if minimum is not None else "")
    return OptionSpec(f.name, kind, f.default, meta["help"], minimum, maximum, tuple(meta["choices"]),
                      range_text, meta["max_bytes"], meta["pattern"])


OptionsT = TypeVar("OptionsT", bound=RequestOptions)
#: Option name -> its definition, in field order.
SPECS: dict[str, OptionSpec] = {f.name: _spec(f) for f in dataclasses.fields(RequestOptions)}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _shown(value: Any) -> str:
    """The bad value as messages show it: numbers as Python writes them, text quoted."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return repr(value)


def check_value(name: str, value: Any) -> Any:
    """Return option ``name``'s ``value`` checked and normalised; text is parsed first.

    ``value`` may be the Python value (``30.0``, ``True``, ``"happiness"``) or its text as a query string
    or a command line carries it (``"30"``, ``"false"``); the same value gives the same result and the
    same message either way.

    Raises:
        OptionsError: code ``bad_parameter`` with ``"<name> must be ..., got <value>"``.
        KeyError: ``name`` is not an option (a programming error).
    """
    spec = SPECS[name]
    if spec.kind is bool:
        return _check_bool(spec, value)
    if spec.kind is str and not spec.choices:
        return _check_text(spec, value)
    if spec.kind is str:
        key = str(value).strip().upper() if isinstance(value, str) else None
        if key not in spec.choices:
            raise OptionsError(f"{name} must be one of {', '.join(spec.choices)} (any case), "
                               f"got {_shown(value)}")
        return key
    number = _number(spec, value)
    assert spec.minimum is not None and spec.maximum is not None
    if not (math.isfinite(number) and spec.minimum <= number <= spec.maximum):
        raise _range_error(spec, number)
    return number


def _check_text(spec: OptionSpec, value: Any) -> str:
    """A free-text option: a string of at most ``max_bytes`` UTF-8 bytes, no NUL, matching ``pattern``."""
    if not isinstance(value, str):
        raise OptionsError(f"{spec.name} must be text, got {_shown(value)}")
    text = value.strip() if spec.pattern else value
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise OptionsError(f"{spec.name} must be valid UTF-8 text") from None
    if size > spec.max_bytes:
        raise OptionsError(f"{spec.name} must be at most {spec.max_bytes} bytes of UTF-8, got {size} bytes")
    if "\0" in text:
        raise OptionsError(f"{spec.name} must not contain NUL characters")
    if spec.pattern and text and not re.fullmatch(spec.pattern, text):
        raise OptionsError(f"{spec.name} must be {spec.range_text}, got {_shown(value)}")
    return text or (spec.default if spec.pattern else text)


def _check_bool(spec: OptionSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    raise OptionsError(f"{spec.name} must be true or false, got {_shown(value)}")


def _number(spec: OptionSpec, value: Any) -> float | int:
    """``value`` as the spec's number type (text parsed), or an OptionsError naming the range."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _range_error(spec, value)
    if spec.kind is int:
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _range_error(spec, value) from None
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise _range_error(spec, value)
        return int(value)
    try:
        return float(value)
    except ValueError:  # text that is not a number
        raise _range_error(spec, value) from None


def _range_error(spec: OptionSpec, value: Any) -> OptionsError:
    what = "a whole number" if spec.kind is int else "a number"
    return OptionsError(f"{spec.name} must be {what} {spec.range_text}, got {_shown(value)}",
                        code=BAD_PARAMETER)


# --- command lines ---------------------------------------------------------------------------------------

__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_LANGUAGE",
    "FILE_OPTIONS",
    "MAX_FPS",
    "MAX_FRAMES",
    "MAX_SEED",
    "MAX_TRANSCRIPT_BYTES",
    "MIN_FPS",
    "SPECS",
    "OptionSpec",
    "OptionsError",
    "RequestOptions",
    "check_value",
    "frame_count",
    "max_duration_s",
]
