"""Coarticulation targets: closures, anticipation, rest, and the AU mapping onto the contract."""

from __future__ import annotations

import numpy as np

from au_contract import MODEL_AUS
from model_server.coarticulation import articulation, au_targets, bilabial_windows
from model_server.phonetics import ARPABET_TO_IPA, PARAMS, split_ipa

AU = {c: i for i, c in enumerate(MODEL_AUS)}


def _seg(spec: list[tuple[str, float]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    phones = [p for p, _ in spec]
    durs = np.array([d for _, d in spec])
    ends = np.cumsum(durs)
    return phones, ends - durs, ends


def _frames(ends: np.ndarray) -> int:
    return int(np.ceil(ends[-1] * 100))


def test_bilabials_reach_full_closure_between_open_vowels() -> None:
    phones, starts, ends = _seg([("_", 0.3), ("ɑ", 0.12), ("p", 0.06), ("ɑ", 0.12), ("m", 0.05),
                                 ("æ", 0.15), ("b", 0.04), ("a", 0.2), ("_", 0.3)])
    y = au_targets(phones, starts, ends, _frames(ends))
    for a, b in bilabial_windows(phones, starts, ends):
        seg = y[int(a * 100):int(np.ceil(b * 100))]
        assert seg[:, AU["AU25"]].min() == 0.0  # lips fully together
        assert seg[:, AU["AU24"]].max() >= 0.79  # and pressed
    vowel = y[int(0.35 * 100), :]
    assert vowel[AU["AU26"]] > 0.5 and vowel[AU["AU25"]] > 0.5  # open vowel: jaw and lips open


def test_rounding_is_anticipated_across_consonants() -> None:
    # "strew": lips round during /s t r/ before /u/ (anticipatory coarticulation)
    phones, starts, ends = _seg([("_", 0.3), ("ɪ", 0.1), ("s", 0.08), ("t", 0.05), ("ɹ", 0.05),
                                 ("uː", 0.2), ("_", 0.3)])
    p = articulation(phones, starts, ends, _frames(ends))
    rnd = p[:, PARAMS.index("round")]
    s_mid = int((starts[2] + 0.04) * 100)
    i_mid = int((starts[1] + 0.05) * 100)
    assert rnd[s_mid] > rnd[i_mid] + 0.1  # rounding already rising during /s/
    assert rnd[int((starts[5] + 0.1) * 100)] > 0.8
    # and a context without a rounded vowel leaves /s/ unrounded
    phones2, starts2, ends2 = _seg([("_", 0.3), ("ɪ", 0.1), ("s", 0.08), ("t", 0.05), ("i", 0.2), ("_", 0.3)])
    p2 = articulation(phones2, starts2, ends2, _frames(ends2))
    assert p2[s_mid, PARAMS.index("round")] < rnd[s_mid] - 0.1


def test_long_pauses_rest_and_short_gaps_do_not() -> None:
    phones, starts, ends = _seg([("_", 0.4), ("ɑ", 0.2), ("_", 0.4), ("ɑ", 0.15), ("_", 0.05),
                                 ("ɑ", 0.15), ("_", 0.4)])
    y = au_targets(phones, starts, ends, _frames(ends))
    long_mid = int((starts[2] + 0.2) * 100)
    assert y[long_mid, AU["AU25"]] <= 0.1 and y[long_mid, AU["AU26"]] <= 0.1
    assert y[0, AU["AU25"]] <= 0.1
    short_mid = int((starts[4] + 0.025) * 100)
    assert y[short_mid, AU["AU26"]] > 0.3  # a 50 ms gap between words does not close the mouth


def test_labiodentals_and_spreading_map_to_their_aus() -> None:
    phones, starts, ends = _seg([("_", 0.3), ("f", 0.1), ("iː", 0.2), ("_", 0.3)])
    y = au_targets(phones, starts, ends, _frames(ends))
    f_mid, i_mid = int(0.35 * 100), int(0.5 * 100)
    assert y[f_mid, AU["AU28"]] > 0.4 > y[i_mid, AU["AU28"]]
    assert y[i_mid, AU["AU20"]] > 0.3 > y[f_mid, AU["AU18"]]
    assert y.shape[1] == len(MODEL_AUS)
    assert np.all((y >= 0) & (y <= 1))


def test_phone_parsing() -> None:
    assert split_ipa("aɪ") == ["a", "ɪ"]
    assert split_ipa("tʃ") == ["tʃ"]
    assert split_ipa("ˈuː") == ["u"]
    assert split_ipa("ɔ̃") == ["ɔ"]
    assert ARPABET_TO_IPA["ch"] == "tʃ" and ARPABET_TO_IPA["pau"] == "_"
