"""Viewer metrics (issue 11) and the DTW aligner's pure parts, on hand-made tracks."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from au_contract import AU_CODES
from au_contract.basis import load_basis
from model_training import metrics as m
from model_training.corpus_build import Clip
from model_training.devset import _ktuberling_texts, _passes, labiodental_nasals, read_transcripts
from model_training.evaluate_viewer import (
    dialog_voice,
    score_clip,
    segment_kinds,
    target_landmarks,
    text_kind,
    through_channel,
)
from model_training.forced_align import match_boundaries, transfer
from model_training.pauses import quiet_pauses


def _landmarks(**aus: float) -> np.ndarray:
    v = np.zeros((1, len(AU_CODES)), np.float32)
    for code, x in aus.items():
        v[0, AU_CODES.index(code)] = x
    return load_basis().evaluate(v)


def test_aperture_is_zero_when_pressed_and_grows_with_opening() -> None:
    rest = m.lip_aperture(_landmarks())[0]
    pressed = m.lip_aperture(_landmarks(AU24=0.8, AU23=0.4, AU17=0.35))[0]
    open_ = m.lip_aperture(_landmarks(AU25=1.0, AU26=1.0))[0]
    assert pressed == 0.0 and rest < 0.02 < 0.3 < open_
    assert m.mouth_width(_landmarks(AU18=1.0))[0] < m.mouth_width(_landmarks())[0] < \
        m.mouth_width(_landmarks(AU20=0.6))[0]


def test_closure_recall_and_depth() -> None:
    a = np.full(100, 0.3)
    a[40:46] = 0.01  # a closure inside the first bilabial's window
    kinds = ["vowel", "bilabial", "vowel", "bilabial", "vowel"]
    starts, ends = np.array([0.2, 0.4, 0.45, 0.7, 0.75]), np.array([0.4, 0.45, 0.7, 0.75, 1.0])
    hits, depths = m.viewer_closures(a, kinds, starts, ends)
    assert hits == [True, False]
    assert np.allclose(depths, [1 - 0.01 / 0.3, 0.0], atol=0.02)
    short = m.viewer_closures(a, ["bilabial"], np.array([0.40]), np.array([0.42]))
    assert short == ([], [])  # under 30 ms: not scored


def test_rounding_pairs_follow_target_and_prediction() -> None:
    target = np.r_[np.full(50, 0.45), np.full(50, 0.65)]  # rounded then spread
    rounded: list[bool | None] = [True, False]
    starts, ends = np.array([0.0, 0.5]), np.array([0.5, 1.0])
    assert m.rounding_pairs(target, target, rounded, starts, ends) == [True]
    assert m.rounding_pairs(target[::-1].copy(), target, rounded, starts, ends) == [False]
    flat = np.full(100, 0.5)
    assert m.rounding_pairs(flat, flat, rounded, starts, ends) == []  # the target shows no difference


def test_jerk_is_scale_free_and_rest_counts_long_pauses() -> None:
    a = np.abs(np.sin(np.linspace(0, 12, 300)))
    assert np.isclose(m.normalised_jerk(a), m.normalised_jerk(3 * a))
    ok, total = m.viewer_rest(np.r_[np.zeros(50), np.full(50, 0.3)], ["pause", "vowel"], np.array([0.0, 0.5]),
                              np.array([0.5, 1.0]))
    assert total == 38 and ok == total


def test_false_closures_count_sealed_lips_where_the_target_is_open() -> None:
    kinds = ["vowel", "bilabial", "vowel", "consonant", "vowel", "pause"]
    starts = np.array([0.0, 0.2, 0.3, 0.5, 0.6, 0.9])
    ends = np.r_[starts[1:], 1.0]
    target = np.full(100, 0.4)
    target[20:30] = 0.0  # the bilabial closes in the target
    pred = target.copy()
    assert m.false_closures(pred, target, kinds, starts, ends) == [False] * 4  # vowels and the consonant
    pred[53:57] = 0.0  # the consonant's middle third sealed: a false closure
    assert m.false_closures(pred, target, kinds, starts, ends) == [False, False, True, False]
    near = target.copy()
    near[50:60] = 0.02  # a labiodental whose target itself nearly closes is not scored
    assert m.false_closures(pred, near, kinds, starts, ends) == [False] * 3
    short = m.false_closures(pred, target, ["consonant"], np.array([0.52]), np.array([0.55]))
    assert short == []  # under 50 ms: not scored


def test_target_scored_against_itself_is_perfect() -> None:
    phones = ["_", "a", "m", "a", "u", "i", "_"]
    starts = np.array([0.0, 0.3, 0.5, 0.6, 0.8, 1.0, 1.2])
    ends = np.r_[starts[1:], 1.6]
    basis = load_basis()
    lm = target_landmarks(phones, starts, ends, 160, basis)
    s = score_clip(lm, lm, phones, starts, ends)
    # The jaw (AU26) still parts the lips a little in a target closure on the default head's basis, so even
    # the target scores a depth below 1 (docs/evaluation.md).
    assert s.hits == [True] and 0.8 < s.depths[0] <= 1.0 and all(s.pairs) and s.lag_ms == 0.0
    assert s.rest[0] == s.rest[1] > 0 and s.false and not any(s.false)
    kinds, rounded = segment_kinds(phones)
    assert kinds[2] == "bilabial" and rounded[4] is True and rounded[5] is False


def test_dtw_transfer_and_boundary_matching() -> None:
    path = np.array([(i, 2 * i) for i in range(50)] + [(i, 2 * i + 1) for i in range(50)])
    path = path[np.lexsort((path[:, 1], path[:, 0]))]
    assert np.allclose(transfer(np.array([0.1, 0.25]), path), [0.2, 0.5])
    true = [("a", 0.0, 0.1), ("m", 0.1, 0.2), ("i", 0.2, 0.3)]
    got = [("a", 0.0, 0.12), ("b", 0.12, 0.2), ("t", 0.2, 0.25), ("i", 0.25, 0.3)]
    assert [(k, t, g) for k, t, g in match_boundaries(true, got)] == [
        ("vowel", 0.0, 0.0), ("bilabial", 0.1, 0.12), ("vowel", 0.2, 0.25)]


def test_transcripts_and_match_gate(tmp_path: Path) -> None:
    path = tmp_path / "core-sounds-xx.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("; comment\n\nhello: Hola, buenos dias.\nbeep: [tono simple]\nnum: marque 1\n")
    assert read_transcripts(path) == {"hello": "Hola, buenos dias.", "num": "marque 1"}
    assert _passes(5.0, 130, 120.0) and not _passes(5.0, 200, 120.0) and not _passes(7.0, 120, 120.0)


def test_ktuberling_texts_are_the_spoken_word(tmp_path: Path) -> None:
    # French files are named <playground>_<word>: the playground (tv, robin, robot...) is not spoken
    for name in ("tv_barriere", "robin_tasse", "patate_noeud-papillon", "sombrero"):
        (tmp_path / f"{name}.wav").write_bytes(b"")
    assert _ktuberling_texts(tmp_path) == {"tv_barriere": "barriere", "robin_tasse": "tasse",
                                           "patate_noeud-papillon": "noeud papillon", "sombrero": "sombrero"}


def test_a_nasal_before_f_or_v_is_labiodental_in_the_reference() -> None:
    # "conferencia" as Debian's espeak-ng 1.51 writes it: the m before f is said [ɱ], no lip closure
    phones = ["k", "o", "m", "f", "e", "ɾ", "e", "m", "b", "o", "m"]
    assert labiodental_nasals(phones) == ["k", "o", "ɱ", "f", "e", "ɾ", "e", "m", "b", "o", "m"]
    kinds = segment_kinds(labiodental_nasals(["a", "m", "v", "a"]))[0]
    assert kinds == ["vowel", "labiodental", "labiodental", "vowel"]


def test_a_reference_pause_that_holds_a_word_shrinks_to_its_quiet_part() -> None:
    # a word said at 3.47-3.66 s that the aligner put inside a pause (Allison's "carpeta, tres"): the pause
    # keeps its quiet stretch, the phone after it starts where the word does; a 20 ms click and a quiet
    # breath in the other pause change nothing; the leading silence ends where the first word starts
    rng = np.random.default_rng(0)
    audio = 1e-4 * rng.standard_normal(16000 * 4).astype(np.float32)
    t = np.arange(16000 * 4) / 16000

    def say(a: float, b: float, amp: float = 0.3) -> None:
        span = slice(int(a * 16000), int(b * 16000))
        audio[span] += (amp * np.sin(2 * np.pi * 150 * t[span])).astype(np.float32)

    for a, b in ((0.5, 1.2), (1.6, 3.2), (3.47, 3.9)):
        say(a, b)
    say(1.35, 1.37)  # a click
    say(1.40, 1.50, amp=0.003)  # a breath, 40 dB under the words
    phones = ["_", "a", "_", "a", "t", "_", "ɾ", "e", "_"]
    starts = np.array([0.0, 0.6, 1.2, 1.6, 3.1, 3.2, 3.655, 3.75, 3.9])
    ends = np.array([*starts[1:], 4.0])
    new_starts, new_ends = quiet_pauses(audio, phones, starts, ends)
    assert new_starts[6] == pytest.approx(3.47, abs=0.011) and new_ends[5] == new_starts[6]
    assert new_ends[4] == pytest.approx(3.2) and new_starts[5] == pytest.approx(3.2)  # the quiet part stays
    assert new_ends[0] == new_starts[1] == pytest.approx(0.5, abs=0.011) and new_starts[0] == 0.0
    keep = [j for j in range(len(phones)) if j not in (0, 1, 5, 6)]
    assert np.array_equal(new_starts[keep], starts[keep]) and np.array_equal(new_ends[keep], ends[keep])
    assert np.allclose(new_starts[1:], new_ends[:-1])  # still contiguous
    kinds = segment_kinds(phones)[0]
    scored = m.scored_pauses(kinds, new_starts, new_ends, 400)
    assert (326, 341) in scored and not any(lo < 390 and hi > 347 for lo, hi in scored)  # no word scored


def test_dialog_reads_a_dev_voice_in_its_own_espeak_voice() -> None:
    latin = Clip(np.zeros(10, np.int16), [], np.zeros(0), np.zeros(0), {"speaker": "asterisk:es-allison",
                                                                         "language": "es"})
    other = Clip(np.zeros(10, np.int16), [], np.zeros(0), np.zeros(0), {"speaker": "espeak:m3",
                                                                         "language": "en-us"})
    assert (dialog_voice(latin), dialog_voice(other)) == ("es-419", "en")


def test_dev_rows_say_whose_transcripts_the_clips_carry() -> None:
    # written for the recording: the core prompts and ktuberling's words; borrowed: other voices' prompt lists
    assert text_kind("asterisk:fr-june") == "written" and text_kind("ktuberling:pt") == "written"
    assert {text_kind(s) for s in ("asterisk:it-menardi", "asterisk:es-co-july", "asterisk:fr-armelle")} == {
        "borrowed"}
    assert text_kind("espeak:m3") is None  # not a dev-set voice: no such row


def test_a_channel_passes_every_clip_through_the_codec_and_keeps_its_phones() -> None:
    """``evaluate_viewer --channel gsm``: the same clips through the codec, phones and timings untouched."""
    t = np.arange(16000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) * 16000).astype(np.int16)
    clip = Clip(audio, ["_", "a", "_"], np.array([0.0, 0.2, 0.8]), np.array([0.2, 0.8, 1.0]),
                {"speaker": "x"})
    out = through_channel([clip, clip], "gsm")
    assert len(out) == 2 and out[0].phones == clip.phones and out[0].meta == clip.meta
    assert out[0].audio.dtype == np.int16 and out[0].audio.shape == audio.shape
    np.testing.assert_array_equal(out[0].starts_s, clip.starts_s)
    assert not np.array_equal(out[0].audio, audio) and np.array_equal(out[0].audio, out[1].audio)
    spectrum = np.abs(np.fft.rfft(out[0].audio.astype(np.float64)))
    assert spectrum[4100:].sum() < 1e-2 * spectrum.sum()  # an 8 kHz codec: nothing above 4.1 kHz
