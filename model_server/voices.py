"""The espeak-ng voice for a transcript's language as people write it (dialog mode).

espeak-ng looks voices up by file name (``en`` is its British English, ``fr`` its French, ``en-us``,
``pt-br``, ``es-419``...), not by the language tags ``espeak-ng --voices`` lists, so ``en-GB``, ``fr-FR``,
``de-DE``, ``es-MX``, ``en_US`` or ``zh`` name no voice as they are. :func:`resolve_voice` finds the one
meant. Pure module (the espeak-ng library through :mod:`model_server.espeak`).
"""

from __future__ import annotations

from .errors import ModelServerError


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


def resolve_voice(code: str) -> str:
    """The espeak-ng voice for a language code as people write it: the code in lower case with ``_`` as
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
    parts = code.strip().lower().replace("_", "-").split("-")
    candidates: list[str] = []  # espeak-ng's names are lower case (its lookup is not reliably case-blind)
    for k in range(len(parts), 0, -1):
        prefix = "-".join(parts[:k])
        candidates += [prefix, VOICE_ALIASES.get(prefix, prefix)]
    for voice in dict.fromkeys(c for c in candidates if c):
        if library.has_voice(voice):
            return voice
    raise UnknownVoiceError(f"espeak-ng has no voice {code!r} (see `espeak-ng --voices`)")


__all__ = ["VOICE_ALIASES", "UnknownVoiceError", "resolve_voice"]
