"""Cross-language forced alignment with pocketsphinx's English acoustic model (training side only).

:mod:`model_training.forced_align` warps an espeak-ng reading onto the recording with DTW; its phone starts
are ~20-25 ms off on English TTS and only about half the bilabials land within 30 ms. A hidden-Markov
aligner does much better on English (pocketsphinx: ~10 ms). Its en-us model knows only the 39 English
phones, but alignment needs no more than a phone that sounds roughly alike: every IPA symbol of espeak-ng's
reading maps to the nearest English phone (:data:`IPA_TO_ARPABET`: Spanish /β/ -> B, French /ʁ/ -> R,
/y/ -> IY...), each phone of the reading becomes a one-phone dictionary word (so a silence may fall
between any two phones; the low silence prior keeps stop closures inside their stops), and pocketsphinx
aligns that string to the recording. The output has the reading's own IPA phones, so the coarticulation
targets and the viewer metrics see the same phone inventory as with the DTW aligner.

Used to time the real-speech development set (:mod:`model_training.devset`). Its own error on clips
with known timings: ``python -m model_training.forced_align --aligner both`` (docs/evaluation.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_server.dtw_align import contiguous
from model_server.features import SAMPLE_RATE
from model_server.phonetics import split_ipa
from model_training.align import aligned
from model_training.forced_align import DEFAULT_WPM, Aligner, Alignment
from model_training.timing import PAUSE

#: IPA symbol (from :func:`split_ipa`) -> en-us phones. Unlisted letters fall back to ``AH``.
IPA_TO_ARPABET: dict[str, str] = {
    # vowels
    "i": "IY", "ɪ": "IH", "ɨ": "IH", "e": "EY", "ɛ": "EH", "æ": "AE", "a": "AA", "ɑ": "AA", "ɐ": "AH",
    "ɒ": "AA", "ʌ": "AH", "ə": "AH", "ɜ": "ER", "ɚ": "ER", "ɝ": "ER", "ɘ": "AH", "ɵ": "UH", "o": "OW",
    "ɔ": "AO", "u": "UW", "ʊ": "UH", "ʉ": "UW", "y": "UW", "ʏ": "UH", "ø": "ER", "œ": "EH", "ɯ": "UW",
    "ɤ": "AH", "ɶ": "AA",
    # consonants
    "p": "P", "b": "B", "m": "M", "ɓ": "B", "ʙ": "B", "ɸ": "F", "β": "B", "f": "F", "v": "V", "ɱ": "M",
    "ʋ": "V", "θ": "TH", "ð": "DH", "t": "T", "d": "D", "n": "N", "l": "L", "ɫ": "L", "ɾ": "D", "r": "R",
    "ɹ": "R", "ɻ": "R", "ɬ": "L", "ɮ": "L", "ɗ": "D", "ʈ": "T", "ɖ": "D", "ɳ": "N", "ɭ": "L", "ɽ": "D",
    "ʎ": "L Y", "ɲ": "N Y", "c": "K", "ɟ": "G", "s": "S", "z": "Z", "ts": "T S", "dz": "D Z", "ʃ": "SH",
    "ʒ": "ZH", "tʃ": "CH", "dʒ": "JH", "ɕ": "SH", "ʑ": "ZH", "ʂ": "SH", "ʐ": "ZH", "tɕ": "CH", "dʑ": "JH",
    "w": "W", "ɥ": "W", "j": "Y", "ç": "HH", "ʝ": "Y", "k": "K", "ɡ": "G", "g": "G", "ŋ": "NG", "x": "HH",
    "ɣ": "G", "q": "K", "ɢ": "G", "ʁ": "R", "χ": "HH", "ʀ": "R", "ɰ": "W", "ħ": "HH", "ʕ": "HH", "h": "HH",
    "ɦ": "HH", "ʔ": "T",
}
#: Diphthongs that are one en-us phone.
_DIPHTHONGS = {"eɪ": "EY", "ei": "EY", "aɪ": "AY", "ai": "AY", "aʊ": "AW", "au": "AW", "ɔɪ": "OY",
               "oi": "OY", "oʊ": "OW", "əʊ": "OW", "ou": "OW"}
_FALLBACK = "AH"


def arpabet(phone: str) -> str:
    """The en-us phone string of one espeak-ng phone (diphthongs and affricates may give two phones)."""
    syms = split_ipa(phone) or ["ə"]
    if "".join(syms) in _DIPHTHONGS:
        return _DIPHTHONGS["".join(syms)]
    return " ".join(IPA_TO_ARPABET.get(s, IPA_TO_ARPABET.get(s.lower(), _FALLBACK)) for s in syms)


def _word(pron: str) -> str:
    return "ph_" + pron.replace(" ", "_").lower()


class SphinxAligner:
    """Aligns transcripts in any espeak-ng language with pocketsphinx (one espeak-ng child process)."""

    #: Analysis frames per second: the en-us phones have three states and no skips, so at pocketsphinx's
    #: usual 100 frames/s no phone can be shorter than 30 ms, and fast speech (or a reading with more phones
    #: than the speaker said) then has no alignment at all; 200 frames/s halves that floor.
    frame_rate = 200

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise RuntimeError("pocketsphinx is needed for alignment: pip install pocketsphinx") from exc
        self._reader = Aligner()
        # Alignment searches one path through a known phone string: beams wide enough never to prune it.
        self._decoder = Decoder(lm=None, bestpath=False, loglevel="FATAL", frate=self.frame_rate,
                                beam=1e-120, wbeam=1e-100, pbeam=1e-120, lpbeam=1e-100, lponlybeam=1e-100,
                                maxhmmpf=-1, maxwpf=-1)
        self._words: set[str] = set()
        self._loop: Any = None  # the free phone loop of free_score, made on first use

    def close(self) -> None:
        """Stop the espeak-ng child process."""
        self._reader.close()

    def _prons(self, text: str, language: str, variant: str = "") -> tuple[list[str], list[str]] | None:
        """espeak-ng's reading of ``text``: (IPA phones without pauses, their en-us pronunciations)."""
        ref = self._reader.reference(text, language, variant, DEFAULT_WPM)
        if ref is None:
            return None
        phones = [p for p in ref[1] if p != PAUSE]
        return (phones, [arpabet(p) for p in phones]) if phones else None

    def text_score(self, audio: np.ndarray, text: str, language: str, variant: str = "") -> float | None:
        """Acoustic log score per frame of pocketsphinx's best path through ``text``'s phones (a silence
        may fall between any two) over 16 kHz ``audio``; None when espeak-ng cannot read the text or no
        path fits (the text is too long for the recording). Compare it with :meth:`free_score`."""
        read = self._prons(text, language, variant)
        if read is None:
            return None
        prons = read[1]
        self._add_words(prons)
        try:
            self._decoder.set_align_text(" ".join(_word(p) for p in prons))
            return _per_frame(self._decoder, audio)
        except (RuntimeError, ValueError):
            return None

    def free_score(self, audio: np.ndarray) -> float | None:
        """Acoustic log score per frame of the best path through a free loop of en-us phones (its phone
        language model, ``allphone``): the yardstick :meth:`text_score` is measured against."""
        if self._loop is None:
            import pocketsphinx
            from pocketsphinx import Decoder

            model = Path(pocketsphinx.__file__).parent / "model" / "en-us" / "en-us-phone.lm.bin"
            self._loop = Decoder(allphone=str(model), lm=None, loglevel="FATAL", frate=self.frame_rate,
                                 bestpath=False, lw=2.0, beam=1e-80, pbeam=1e-80)
        return _per_frame(self._loop, audio)

    def _add_words(self, prons: list[str]) -> None:
        new = [p for p in dict.fromkeys(prons) if _word(p) not in self._words]
        for k, pron in enumerate(new):
            self._decoder.add_word(_word(pron), pron, k == len(new) - 1)
            self._words.add(_word(pron))

    def _segments(self, audio: np.ndarray, prons: list[str]) -> list[tuple[str, float, float]] | None:
        """pocketsphinx's word segments (dictionary word, start s, end s) for the phone string, or None."""
        self._add_words(prons)
        try:
            self._decoder.set_align_text(" ".join(_word(p) for p in prons))
            alignment = aligned(self._decoder, audio)
        except (RuntimeError, ValueError):
            return None
        if alignment is None:
            return None
        fr = float(self.frame_rate)
        return [(w.name, w.start / fr, (w.start + w.duration) / fr) for w in alignment]

    def align(self, audio: np.ndarray, text: str, language: str, variant: str = "") -> Alignment | None:
        """Align ``text`` (in espeak-ng ``language``) to 16 kHz ``audio``; None if espeak-ng or pocketsphinx
        fails (the caller may fall back to the DTW aligner)."""
        read = self._prons(text, language, variant)
        if read is None:
            return None
        phones, prons = read
        segs = self._segments(audio, prons)
        if segs is None:
            return None
        out_p: list[str] = []
        starts: list[float] = []
        ends: list[float] = []
        k = 0
        for name, a, b in segs:
            if not name.startswith("ph_"):  # <sil>, <s>, </s> and other fillers
                out_p.append(PAUSE)
            elif k < len(phones):
                out_p.append(phones[k])
                k += 1
            else:
                return None
            starts.append(a)
            ends.append(b)
        if k != len(phones):
            return None
        total = len(audio) / SAMPLE_RATE
        res = contiguous(out_p, np.asarray(starts), np.minimum(np.asarray(ends), total), total)
        return Alignment(*res, cost=0.0, rate_wpm=DEFAULT_WPM)


def _per_frame(decoder: Any, audio: np.ndarray) -> float | None:
    """One search of ``decoder`` over 16 kHz ``audio``: the summed acoustic log score of its best path's
    segments per frame (pocketsphinx hands scores back as probabilities, normalised to each frame's best
    senone), or None when it finds no path."""
    decoder.start_utt()
    decoder.process_raw((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    segs = list(decoder.seg() or ())
    if not segs:
        return None
    frames = segs[-1].end_frame + 1 - segs[0].start_frame
    return float(sum(np.log(max(s.ascore, 1e-300)) for s in segs)) / max(frames, 1)
