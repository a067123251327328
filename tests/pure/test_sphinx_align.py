"""The cross-language pocketsphinx aligner that times the real-speech development set."""

from __future__ import annotations

import numpy as np
import pytest

from model_server.phonetics import _CONSONANTS, _VOWELS, ARPABET_TO_IPA
from model_training.forced_align import _symbols, match_boundaries
from model_training.sphinx_align import IPA_TO_ARPABET, SphinxAligner, arpabet
from model_training.timing import PAUSE

EN_US_PHONES = {p.upper() for p in ARPABET_TO_IPA if p not in {"pau", "h#", "sil", "ssil", "brth", "ax",
                                                              "axr", "ix", "dx", "el", "em", "en", "nx",
                                                              "wh", "h"}}


def test_every_known_ipa_symbol_maps_to_en_us_phones() -> None:
    for symbol in list(_VOWELS) + list(_CONSONANTS):
        assert symbol in IPA_TO_ARPABET, symbol
        assert set(arpabet(symbol).split()) <= EN_US_PHONES, symbol
    assert arpabet("eɪ") == "EY" and arpabet("aɪ") == "AY"  # one en-us diphthong, not two vowels
    assert arpabet("ts") == "T S" and arpabet("β") == "B" and arpabet("ʁ") == "R"
    assert arpabet("ɑː") == "AA"  # length marks dropped


@pytest.mark.parametrize(("language", "text"), [
    ("es", "Mi mamá compra pan y vino para la boda."),
    ("it", "Il bambino mangia la mela sotto il ponte."),
])
def test_another_voice_aligns_to_its_true_phone_starts(language: str, text: str) -> None:
    """A slower, higher espeak-ng voice (its phone events are the truth) aligns within a few frames, and
    the aligner's output keeps the reading's IPA phones and covers the clip contiguously."""
    aligner = SphinxAligner()
    try:
        rec = aligner._reader.reference(text, language, "f3", 120)
        assert rec is not None
        audio, true_phones, true_starts, true_ends = rec
        res = aligner.align(audio, text, language)
    finally:
        aligner.close()
    assert res is not None
    assert res.starts_s[0] == 0.0 and res.ends_s[-1] == pytest.approx(len(audio) / 16000)
    np.testing.assert_allclose(res.starts_s[1:], res.ends_s[:-1])
    assert [p for p in res.phones if p != PAUSE] == [p for p in true_phones if p != PAUSE]
    true = [s for s in _symbols(true_phones, true_starts, true_ends) if s[0] != PAUSE]
    got = [s for s in _symbols(res.phones, res.starts_s, res.ends_s) if s[0] != PAUSE]
    errs = np.array([abs(a - t) for _, t, a in match_boundaries(true, got)])
    assert len(errs) >= 0.9 * len(true)
    assert np.median(errs) < 0.025, np.median(errs)
    # a /p/ starts where its closure starts (model_server.espeak.attach_stop_closures), as pocketsphinx's do
    bilabial = np.array([abs(a - t) for kind, t, a in match_boundaries(true, got) if kind == "bilabial"])
    assert len(bilabial) >= 5 and np.mean(bilabial <= 0.04) >= 0.6 and bilabial.max() < 0.1, bilabial
