"""The espeak-ng voice for a transcript's language as people write it (dialog mode).

espeak-ng looks voices up by file name (``en`` is its British English, ``fr`` its French, ``en-us``,
``pt-br``, ``es-419``...), not by the language tags ``espeak-ng --voices`` lists, so ``en-GB``, ``fr-FR``,
``de-DE``, ``es-MX``, ``en_US`` or ``zh`` name no voice as they are; nor do language names (``French``,
``spanish``, ``Deutsch``). :func:`resolve_voice` finds the one meant. Pure module (the espeak-ng library
through :mod:`model_server.espeak`).
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from .errors import ModelServerError

if TYPE_CHECKING:
    from .espeak import EspeakLibrary


class UnknownVoiceError(ModelServerError, ValueError):
    """espeak-ng has no voice of the code the caller gave (``xx``, a typo): the only ``ValueError`` of an
    alignment that is the caller's, not the recording's."""


#: Codes people type (BCP 47, ISO 639) that espeak-ng knows by another name; region variants it does not
#: have fall back to their language (``de-DE`` -> ``de``, ``fr-CA`` -> ``fr``) in :func:`resolve_voice`.
VOICE_ALIASES = {
    "zh": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "zh-sg": "cmn", "zh-tw": "cmn", "zh-hant": "cmn",
    "zh-hk": "yue", "no": "nb", "nb-no": "nb", "nn": "nb", "en-uk": "en-gb", "iw": "he", "in": "id",
    **{f"es-{region}": "es-419" for region in ("mx", "us", "ar", "co", "cl", "pe", "ve", "uy", "py", "bo",
                                               "ec", "gt", "cu", "do", "hn", "ni", "pa", "pr", "sv", "cr")},
}

#: Language names in the language itself (and a few English ones espeak-ng's names do not start with) ->
#: the espeak-ng voice; English names (``French``, ``Spanish (Latin America)``) come from espeak-ng itself.
NAME_ALIASES = {
    "français": "fr", "francais": "fr", "deutsch": "de", "español": "es", "espanol": "es", "castellano": "es",
    "italiano": "it", "português": "pt", "portugues": "pt", "nederlands": "nl", "polski": "pl",
    "svenska": "sv", "suomi": "fi", "türkçe": "tr", "turkce": "tr", "čeština": "cs", "cestina": "cs",
    "magyar": "hu", "română": "ro", "romana": "ro", "dansk": "da", "norsk": "nb", "ελληνικά": "el",
    "русский": "ru", "українська": "uk", "العربية": "ar", "עברית": "he", "हिन्दी": "hi", "中文": "cmn",
    "普通话": "cmn", "廣東話": "yue", "粤语": "yue", "日本語": "ja", "한국어": "ko", "chinese": "cmn",
    "mandarin": "cmn", "cantonese": "yue", "bahasa indonesia": "id", "bahasa": "id",
}


class _Voice(ctypes.Structure):
    """espeak-ng's ``espeak_VOICE`` (speak_lib.h) as ``espeak_ListVoices`` returns it."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


def voice_names(library: EspeakLibrary) -> list[tuple[str, str]]:
    """Every espeak-ng voice as (name, voice): ``("French (France)", "fr")``, ``("English (America)",
    "en-us")``; the voice is the lower-case file name :func:`resolve_voice` returns."""
    list_voices = library._lib.espeak_ListVoices  # the binding's handle: it has no public voice list
    list_voices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    list_voices.argtypes = [ctypes.c_void_p]
    out: list[tuple[str, str]] = []
    with library._lock:
        table = list_voices(None)  # NULL-terminated, owned by the library
        k = 0
        while table[k]:
            voice = table[k].contents
            name, ident = (voice.name or b"").decode("utf-8", "replace"), (voice.identifier or b"").decode()
            out.append((name, ident.rsplit("/", 1)[-1].lower()))
            k += 1
    return out


_listed: dict[int, list[tuple[str, str]]] = {}  # voice_names per library (the process keeps its libraries)


def _by_name(library: EspeakLibrary, text: str) -> str | None:
    """The voice a language name means: its full espeak-ng name (``Spanish (Latin America)``), a name
    without the parenthesis (``French``: of its voices, the one with the shortest file name, ``fr``;
    ``English`` -> ``en``), or :data:`NAME_ALIASES`; None for anything else (codes included)."""
    wanted = " ".join(text.replace("_", " ").split()).lower()
    if wanted in NAME_ALIASES:
        return NAME_ALIASES[wanted]
    voices = _listed.get(id(library)) or _listed.setdefault(id(library), voice_names(library))
    exact = [voice for name, voice in voices if name.lower() == wanted]
    if exact:
        return exact[0]
    base = [voice for name, voice in voices if name.lower().split(" (", 1)[0] == wanted]
    return min(base, key=len) if base else None


def resolve_voice(code: str) -> str:
    """The espeak-ng voice for a language as people write it. A language name first (:func:`_by_name`:
    ``French`` -> ``fr``, ``English (America)`` -> ``en-us``, ``Deutsch`` -> ``de``; espeak-ng would take
    some names as they are, and then report them as the voice). Else a code: in lower case with ``_`` as
    ``-`` when espeak-ng has a voice of that name (``en_US`` -> ``en-us``, ``pt-BR`` -> ``pt-br``), else
    an alias (:data:`VOICE_ALIASES`: ``zh`` -> ``cmn``, ``es-MX`` -> ``es-419``), else the same without
    its last subtags (``de-DE`` -> ``de``; ``en-GB`` -> ``en`` and ``fr-FR`` -> ``fr``, the names of
    espeak-ng's British and French voices: it looks voices up by file name, not by the language tags
    ``espeak-ng --voices`` lists).

    Raises:
        model_server.espeak.EspeakUnavailableError: no espeak-ng here.
        UnknownVoiceError: none of those is an espeak-ng voice.
    """
    from .espeak import shared_library

    library = shared_library()
    named = _by_name(library, code)
    if named and library.has_voice(named):
        return named
    parts = code.strip().lower().replace("_", "-").split("-")
    candidates: list[str] = []  # espeak-ng's names are lower case (its lookup is not reliably case-blind)
    for k in range(len(parts), 0, -1):
        prefix = "-".join(parts[:k])
        candidates += [prefix, VOICE_ALIASES.get(prefix, prefix)]
    for voice in dict.fromkeys(c for c in candidates if c):
        if library.has_voice(voice):
            return voice
    raise UnknownVoiceError(f"espeak-ng has no voice {code!r} (see `espeak-ng --voices`)")


__all__ = ["NAME_ALIASES", "VOICE_ALIASES", "UnknownVoiceError", "resolve_voice", "voice_names"]
