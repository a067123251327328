"""Per-phone articulatory targets and dominance: the phonetic knowledge behind the training targets.

Every engine's phones arrive as IPA (espeak-ng and Piper natively; Festival and Flite through
:data:`ARPABET_TO_IPA`). Each IPA symbol gets a target for seven visible articulatory parameters and a
dominance (how strongly the phone insists on that target, Cohen & Massaro 1993):

* ``jaw``: jaw opening, 0 = teeth together, 1 = widest. Follows vowel height: open vowels /a ɑ æ/ high,
  close vowels /i u/ low. Sibilants /s z ʃ ʒ/ need a raised jaw for the groove-against-teeth noise, so
  their jaw target is low *and dominant*; velars and /h/ do not care (low dominance), so they take the
  jaw of their vowel neighbours ("key" is more closed than "car" at the /k/).
* ``lips``: lip separation (aperture). Zero for bilabials and at rest; vowels open the lips roughly with
  the jaw, but rounded vowels narrow the aperture.
* ``round``: lip protrusion / pucker of close rounded vowels /u y ʊ/ and /w/. Consonants are mostly
  unspecified for rounding, so the dominance of a rounded vowel reaches back over several consonants:
  anticipatory rounding ("strew": the lips round during /s t r/, Benguerel & Cowan 1974). This is the
  longest anticipation time constant of the model.
* ``funnel``: open, flared rounding of /ʃ ʒ tʃ dʒ/, English /ɹ/ and the mid rounded vowels /o ɔ/.
* ``spread``: lip spreading of front unrounded vowels /i e ɪ/ and palatal /j/.
* ``closure``: bilabial closure of /p b m/: the lips meet and press. Dominance is very high (the
  closure is obligatory, a visible error otherwise) and :mod:`coarticulation` additionally forces a full
  closure through the closed phase of every bilabial.
* ``dental``: labiodental contact, lower lip against the upper teeth for /f v ɱ/ (/ʋ/ half).

A pause ``"_"`` targets the rest face: jaw and lips closed without pressing. Its dominance grows with its
length, so a 60 ms gap between words barely moves the mouth while a sentence pause lets it rest.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

#: Articulatory parameters, in array order.
PARAMS: tuple[str, ...] = ("jaw", "lips", "round", "funnel", "spread", "closure", "dental")
N_PARAMS = len(PARAMS)

#: Anticipation time constants in seconds per parameter (how far before a phone its dominance reaches).
ANTICIPATION_S = np.array([0.07, 0.05, 0.15, 0.10, 0.08, 0.035, 0.04])
#: Carry-over (perseveration) time constants in seconds per parameter, shorter than anticipation.
CARRYOVER_S = np.array([0.05, 0.045, 0.09, 0.07, 0.06, 0.025, 0.03])


@dataclass(frozen=True)
class PhoneTarget:
    """Targets and dominances of one IPA symbol.

    Attributes:
        targets: [7] parameter targets in [0, 1] (order :data:`PARAMS`).
        dominance: [7] dominance magnitudes (>0): 1 = an ordinary vowel's insistence.
        kind: ``"vowel"``, ``"bilabial"``, ``"labiodental"``, ``"consonant"`` or ``"pause"``.
    """

    targets: np.ndarray
    dominance: np.ndarray
    kind: str


def _t(jaw: float, lips: float, rnd: float = 0.0, funnel: float = 0.0, spread: float = 0.0,
       closure: float = 0.0, dental: float = 0.0) -> np.ndarray:
    return np.array([jaw, lips, rnd, funnel, spread, closure, dental], np.float64)


# Dominance profiles per phone kind (order of PARAMS).
_D_VOWEL = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.8])
_D_BILABIAL = np.array([0.5, 1.0, 0.15, 0.15, 0.15, 2.0, 0.6])
_D_LABIODENTAL = np.array([0.6, 3.0, 0.2, 0.2, 0.2, 0.6, 6.0])
_D_CONS = np.array([0.35, 0.4, 0.1, 0.1, 0.1, 0.6, 0.6])  # lips unspecified: coarticulate freely
_D_SIBILANT = np.array([1.2, 0.8, 0.2, 0.9, 0.3, 0.6, 0.6])  # jaw raised for the sibilant groove
_D_ROUNDED_CONS = np.array([0.6, 1.5, 3.0, 1.5, 1.0, 0.6, 0.6])  # /w ɥ/: rounding is their identity
_D_PAUSE = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])

_VOWELS: dict[str, np.ndarray] = {
    # close front unrounded: spread lips, nearly closed jaw
    "i": _t(0.12, 0.35, spread=0.8), "ɪ": _t(0.2, 0.4, spread=0.55), "ɨ": _t(0.18, 0.35, spread=0.3),
    "e": _t(0.28, 0.5, spread=0.6), "ɛ": _t(0.42, 0.6, spread=0.45), "æ": _t(0.6, 0.75, spread=0.45),
    # open vowels: the jaw drops
    "a": _t(0.72, 0.85, spread=0.15), "ɑ": _t(0.75, 0.85, spread=0.05), "ɐ": _t(0.55, 0.7, spread=0.05),
    "ɒ": _t(0.65, 0.7, rnd=0.25, funnel=0.35), "ʌ": _t(0.5, 0.65, spread=0.1),
    # central vowels: relaxed lips
    "ə": _t(0.32, 0.48, spread=0.1), "ɜ": _t(0.38, 0.5, spread=0.1), "ɚ": _t(0.3, 0.42, funnel=0.35),
    "ɝ": _t(0.3, 0.42, funnel=0.35), "ɘ": _t(0.3, 0.45, spread=0.15), "ɵ": _t(0.3, 0.38, rnd=0.4),
    # mid rounded: funnel (open rounding)
    "o": _t(0.35, 0.42, rnd=0.45, funnel=0.6), "ɔ": _t(0.5, 0.58, rnd=0.25, funnel=0.6),
    # close rounded: pucker (protruded, small aperture)
    "u": _t(0.15, 0.22, rnd=0.95, funnel=0.3), "ʊ": _t(0.22, 0.32, rnd=0.65, funnel=0.3),
    "ʉ": _t(0.15, 0.25, rnd=0.8, funnel=0.2),
    # front rounded (German, French, Finnish, Turkish...)
    "y": _t(0.13, 0.22, rnd=0.85, funnel=0.2), "ʏ": _t(0.2, 0.3, rnd=0.6, funnel=0.25),
    "ø": _t(0.3, 0.35, rnd=0.7, funnel=0.4), "œ": _t(0.45, 0.52, rnd=0.45, funnel=0.45),
    # back unrounded (Turkish ı, Korean...)
    "ɯ": _t(0.18, 0.35, spread=0.4), "ɤ": _t(0.35, 0.5, spread=0.2),
}

_CONSONANTS: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}


def _add(symbols: str, targets: np.ndarray, dominance: np.ndarray, kind: str = "consonant") -> None:
    for s in symbols.split():
        _CONSONANTS[s] = (targets, dominance, kind)


_add("p b m ɓ ʙ", _t(0.1, 0.0, closure=1.0), _D_BILABIAL, "bilabial")
_add("ɸ β", _t(0.12, 0.08, rnd=0.2), _D_LABIODENTAL)  # bilabial fricatives: nearly closed lips
_add("f v ɱ", _t(0.12, 0.12, dental=1.0), _D_LABIODENTAL, "labiodental")
_add("ʋ", _t(0.15, 0.2, dental=0.5), _D_LABIODENTAL, "labiodental")
_add("θ ð", _t(0.2, 0.35), _D_CONS)  # tongue between the teeth: jaw slightly open
_add("t d n l ɾ r ɬ ɮ ɗ ʈ ɖ ɳ ɭ ɽ ʎ ɲ c ɟ", _t(0.17, 0.3), _D_CONS)
_add("s z ts dz", _t(0.1, 0.25, spread=0.3), _D_SIBILANT)
_add("ʃ ʒ tʃ dʒ ɕ ʑ ʂ ʐ tɕ dʑ", _t(0.12, 0.32, rnd=0.3, funnel=0.85), _D_SIBILANT)
_add("ɹ ɻ", _t(0.18, 0.3, rnd=0.35, funnel=0.45), _D_CONS * np.array([1, 1, 4, 4, 1, 1, 1]))
_add("w", _t(0.14, 0.15, rnd=1.0, funnel=0.25), _D_ROUNDED_CONS)
_add("ɥ", _t(0.12, 0.15, rnd=0.9, funnel=0.2), _D_ROUNDED_CONS)
_add("j ç ʝ", _t(0.15, 0.3, spread=0.5), _D_CONS * np.array([1, 1, 1, 1, 3, 1, 1]))
_add("k ɡ g ŋ x ɣ q ɢ ʁ χ ʀ ɰ ħ ʕ h ɦ ʔ", _t(0.25, 0.4), _D_CONS)

_PAUSE = PhoneTarget(_t(0.0, 0.0), _D_PAUSE, "pause")
_UNKNOWN = PhoneTarget(_t(0.2, 0.35), _D_CONS, "consonant")

#: CMU / Festival "radio" phone set -> IPA (Festival kal/ked, Flite kal16/awb).
ARPABET_TO_IPA: dict[str, str] = {
    "aa": "ɑ", "ae": "æ", "ah": "ʌ", "ao": "ɔ", "aw": "aʊ", "ax": "ə", "axr": "ɚ", "ay": "aɪ",
    "eh": "ɛ", "er": "ɝ", "ey": "eɪ", "ih": "ɪ", "ix": "ɨ", "iy": "i", "ow": "oʊ", "oy": "ɔɪ",
    "uh": "ʊ", "uw": "u", "b": "b", "ch": "tʃ", "d": "d", "dh": "ð", "dx": "ɾ", "el": "əl",
    "em": "əm", "en": "ən", "f": "f", "g": "ɡ", "hh": "h", "h": "h", "jh": "dʒ", "k": "k", "l": "l",
    "m": "m", "n": "n", "nx": "ŋ", "ng": "ŋ", "p": "p", "r": "ɹ", "s": "s", "sh": "ʃ", "t": "t",
    "th": "θ", "v": "v", "w": "w", "wh": "w", "y": "j", "z": "z", "zh": "ʒ",
    "pau": "_", "h#": "_", "sil": "_", "ssil": "_", "brth": "_",
}

_TWO_CHAR = sorted({k for k in _CONSONANTS if len(k) == 2}, key=len, reverse=True)
_SKIP = set("ːˑˈˌ-.|‖‿ʰʲʷˠˤ̃ʼ̩̯̪̥̬̺̻̹̜̟̠̈̽̆˞ᵻ'0123456789")


def split_ipa(phone: str) -> list[str]:
    """Split one engine phone (IPA, maybe a diphthong or affricate) into known symbols.

    Length, stress and most diacritics are dropped; affricates (``tʃ``) stay one symbol; diphthongs
    (``aɪ``) give two. Unknown letters are kept (they map to a neutral consonant).
    """
    text = unicodedata.normalize("NFD", phone)
    text = "".join(ch for ch in text if ch not in _SKIP and not unicodedata.combining(ch))
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in _TWO_CHAR:
            out.append(pair)
            i += 2
            continue
        out.append(text[i])
        i += 1
    return [s for s in out if s.strip()]


def phone_target(symbol: str) -> PhoneTarget:
    """Targets and dominance of one IPA symbol (from :func:`split_ipa`) or ``"_"`` for a pause."""
    if symbol == "_":
        return _PAUSE
    if symbol in _VOWELS:
        return PhoneTarget(_VOWELS[symbol], _D_VOWEL, "vowel")
    if symbol in _CONSONANTS:
        targets, dominance, kind = _CONSONANTS[symbol]
        return PhoneTarget(targets, dominance, kind)
    low = symbol.lower()
    if low in _VOWELS:
        return PhoneTarget(_VOWELS[low], _D_VOWEL, "vowel")
    return _UNKNOWN


def is_bilabial(phone: str) -> bool:
    """Whether an engine phone contains a bilabial stop or nasal (the closures evaluation counts)."""
    return any(phone_target(s).kind == "bilabial" for s in split_ipa(phone))


# --- Phone classes: the acoustic model's auxiliary per-frame output ----------------------------------------

#: Phone classes of the acoustic model's auxiliary output, in output order (the columns of the ONNX
#: ``phone_logits`` output, the ``phone_classes`` metadata, the training labels). Index 0 is silence.
PHONE_CLASSES: tuple[str, ...] = ("silence", "bilabial", "labiodental", "dental_alveolar", "velar",
                                  "rounded_vowel", "open_vowel", "other_vowel")
N_PHONE_CLASSES = len(PHONE_CLASSES)
SILENCE_CLASS = PHONE_CLASSES.index("silence")

#: Vowels whose target has round + funnel at least this are ``rounded_vowel`` (/u ʊ ʉ y ʏ ø œ o ɔ ɒ ɵ/).
ROUNDED_MIN = 0.4
#: Other vowels whose jaw target is at least this are ``open_vowel`` (/a ɑ æ ɐ ʌ/); the rest (/i ɪ e ɛ ə
#: ɜ ɚ ɝ ɨ ɘ ɯ ɤ/) are ``other_vowel``.
OPEN_MIN_JAW = 0.5
# Back-of-the-tongue and throat consonants: velar, uvular, pharyngeal, glottal.
_VELAR_CLASS = frozenset({"k", "ɡ", "g", "ŋ", "x", "ɣ", "ɰ", "q", "ɢ", "ʁ", "χ", "ʀ", "ħ", "ʕ",
                          "h", "ɦ", "ʔ"})
# Bilabial fricatives /ɸ β/ narrow the lips without closing them, like /f v/ (same dominance profile).
_LABIODENTAL_CLASS = frozenset({"ɸ", "β"})
# Labial-velar glides: their lip shape is a close rounded vowel's.
_ROUNDED_CLASS = frozenset({"w", "ɥ"})


def symbol_class(symbol: str) -> int:
    """Phone class (index into :data:`PHONE_CLASSES`) of one IPA symbol from :func:`split_ipa`.

    The map, from the articulatory tables above (one source of truth for targets and classes):

    * ``silence``: the pause ``"_"``;
    * ``bilabial``: /p b m ɓ ʙ/ (the closure phones);
    * ``labiodental``: /f v ɱ ʋ/ and the bilabial fricatives /ɸ β/;
    * ``velar``: velar, uvular, pharyngeal and glottal consonants /k ɡ ŋ x ɣ ɰ q ɢ ʁ χ ʀ ħ ʕ h ɦ ʔ/;
    * ``rounded_vowel``: vowels with round + funnel >= :data:`ROUNDED_MIN`, and the glides /w ɥ/;
    * ``open_vowel``: other vowels with jaw >= :data:`OPEN_MIN_JAW`;
    * ``other_vowel``: the remaining vowels (close/mid unrounded, central);
    * ``dental_alveolar``: every other consonant: dental, alveolar, postalveolar (/ʃ ʒ tʃ dʒ/),
      retroflex, alveolo-palatal, palatal (/c ɟ ɲ ʎ j ç ʝ/: tongue front, grouped with t d n l in the
      articulatory table) and unknown symbols.
    """
    if symbol == "_":
        return SILENCE_CLASS
    target = phone_target(symbol)
    if target.kind == "vowel":
        jaw, _, rnd, funnel = (float(v) for v in target.targets[:4])
        if rnd + funnel >= ROUNDED_MIN:
            return PHONE_CLASSES.index("rounded_vowel")
        return PHONE_CLASSES.index("open_vowel" if jaw >= OPEN_MIN_JAW else "other_vowel")
    if target.kind == "bilabial":
        return PHONE_CLASSES.index("bilabial")
    if target.kind == "labiodental" or symbol in _LABIODENTAL_CLASS:
        return PHONE_CLASSES.index("labiodental")
    if symbol in _ROUNDED_CLASS:
        return PHONE_CLASSES.index("rounded_vowel")
    if symbol in _VELAR_CLASS:
        return PHONE_CLASSES.index("velar")
    return PHONE_CLASSES.index("dental_alveolar")


def _engine_symbols(phone: str, phone_set: str) -> list[str]:
    if phone_set == "arpabet":
        name = phone.lower().rstrip("012")  # CMU stress digits
        if name not in ARPABET_TO_IPA:
            raise ValueError(f"unknown ARPABET phone {phone!r}")
        phone = ARPABET_TO_IPA[name]
    elif phone_set != "ipa":
        raise ValueError(f"phone_set must be 'ipa' or 'arpabet', got {phone_set!r}")
    return ["_"] if phone == "_" else (split_ipa(phone) or ["?"])


def phone_classes(phone: str, phone_set: str = "ipa") -> tuple[int, ...]:
    """Classes of one engine phone, one per symbol (a diphthong ``"aɪ"`` gives open, other vowel).

    Args:
        phone: an engine phone: IPA (espeak-ng, Piper, and Festival/Flite after :data:`ARPABET_TO_IPA`,
            as the corpus stores them) or, with ``phone_set="arpabet"``, a Festival/Flite/CMU name.
        phone_set: ``"ipa"`` or ``"arpabet"``.

    Raises:
        ValueError: for an unknown ``phone_set`` or ARPABET name.
    """
    return tuple(symbol_class(s) for s in _engine_symbols(phone, phone_set))


def symbol_shares(symbols: list[str]) -> list[float]:
    """Share of an engine phone's duration per symbol: a vowel-vowel diphthong holds its first element
    longer (0.55 / 0.45), anything else splits evenly (the split of ``coarticulation``'s targets)."""
    if len(symbols) == 2 and all(phone_target(s).kind == "vowel" for s in symbols):
        return [0.55, 0.45]
    return [1.0 / len(symbols)] * len(symbols)


def phone_class_frames(phones: list[str], starts_s: np.ndarray, ends_s: np.ndarray, n_frames: int,
                       frame_rate_hz: float = 100.0) -> np.ndarray:
    """Per-frame phone-class labels of a segmentation (frame ``k`` at ``k / frame_rate_hz`` seconds).

    Args:
        phones: IPA phone per segment (``"_"`` = pause). starts_s, ends_s: [S] segment times in seconds.
        n_frames: number of frames.

    Returns:
        [n_frames] int64 indices into :data:`PHONE_CLASSES`; frames outside every segment are silence.
    """
    bounds: list[float] = []
    classes: list[int] = []
    for phone, a, b in zip(phones, starts_s, ends_s, strict=True):
        symbols = _engine_symbols(phone, "ipa")
        t = float(a)
        for sym, share in zip(symbols, symbol_shares(symbols), strict=True):
            bounds.append(t)
            classes.append(symbol_class(sym))
            t += share * (float(b) - float(a))
    times = np.arange(n_frames) / frame_rate_hz  # [T]
    labels = np.full(n_frames, SILENCE_CLASS, np.int64)
    if not classes:
        return labels
    idx = np.searchsorted(np.asarray(bounds), times, side="right") - 1  # [T] symbol index, -1 = before
    inside = (idx >= 0) & (times < float(ends_s[-1]))
    labels[inside] = np.asarray(classes, np.int64)[idx[inside]]
    return labels
