"""Dialog mode (model_server.dialog, transcript_align, dtw_align, espeak): transcript options, alignment,
gating, blending."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from au_contract import CLOSURE_AUS, MODEL_AUS
from au_contract.option_flags import add_arguments, openapi_parameters, options_from_namespace, parse_query
from au_contract.options import MAX_TRANSCRIPT_BYTES, OptionsError, RequestOptions
from model_server import dialog, dtw_align, espeak, transcript_align, voices
from model_server.coarticulation import au_targets
from tests.fixtures import espeak_clip

TEXT = "My mother bought a map and a bumpy mop for Bob."


def _samples(tmp_path: Path, text: str = TEXT, voice: str = "en-us+m3") -> np.ndarray:
    import soundfile as sf
    import soxr

    clip = espeak_clip(tmp_path, text, voice=voice)
    audio, rate = sf.read(str(clip.path), dtype="float32")
    return np.asarray(soxr.resample(audio, rate, 16000), np.float32)


def _model_like(samples: np.ndarray) -> np.ndarray:
    """A stand-in for the audio model: the true targets of the clip, blurred (closures half-reached)."""
    n = -(-samples.size // 160)
    found = transcript_align.align(samples, TEXT, "en", null=False)
    assert found is not None
    return 0.5 * au_targets(found.phones, found.starts_s, found.ends_s, n)


# --- options ---------------------------------------------------------------------------------------------

def test_transcript_and_language_are_request_options_checked_everywhere() -> None:
    o = RequestOptions(transcript="Hi Bob 😀", language=" de ").validated()
    assert (o.transcript, o.language) == ("Hi Bob 😀", "de")
    assert RequestOptions(language="").validated().language == "en"
    assert RequestOptions.from_query(o.to_query().items()) == o
    for bad, words in ((dict(transcript="x" * (MAX_TRANSCRIPT_BYTES + 1)), "at most 4096 bytes"),
                       (dict(transcript="a\0b"), "NUL"), (dict(transcript=5), "must be text"),
                       (dict(language="../etc"), "espeak-ng voice code"), (dict(language="a" * 65), "64")):
        with pytest.raises(OptionsError, match=words):
            RequestOptions(**bad).validated()
    names = {p["name"]: p for p in openapi_parameters()}
    assert names["transcript"]["schema"]["maxLength"] == MAX_TRANSCRIPT_BYTES


def test_query_must_be_utf8() -> None:
    pairs = [("transcript", "café"), ("language", "fr")]
    assert parse_query(b"transcript=caf%C3%A9&language=fr") == pairs
    with pytest.raises(OptionsError, match="not UTF-8"):
        parse_query(b"transcript=caf%E9")


def test_transcript_file_flag(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    good = tmp_path / "line.txt"
    good.write_text("Bonjour, ça va ?", encoding="utf-8")
    opts = options_from_namespace(parser.parse_args(["--transcript-file", str(good), "--language", "fr"]),
                                  RequestOptions)
    assert (opts.transcript, opts.language) == ("Bonjour, ça va ?", "fr")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café".encode("latin-1"))
    with pytest.raises(OptionsError, match="not UTF-8"):
        options_from_namespace(parser.parse_args(["--transcript-file", str(bad)]), RequestOptions)
    with pytest.raises(OptionsError, match="cannot read"):
        options_from_namespace(parser.parse_args(["--transcript-file", str(tmp_path / "no.txt")]),
                               RequestOptions)


# --- engine ----------------------------------------------------------------------------------------------

def test_clean_transcript_drops_emoji_and_symbols_keeps_numbers_and_punctuation() -> None:
    assert dialog.clean_transcript("Meet me at 5 😀, OK?\x07") == ("Meet me at 5 , OK?", 2)


def test_dtw_path_follows_a_time_shift() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((60, 4)).astype(np.float32)
    real = np.concatenate([np.zeros((10, 4), np.float32) + ref[0], ref])  # the same, 10 frames late
    path, cost = dtw_align.dtw_path(ref, real)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (59, 69)
    assert cost < 0.05
    assert np.all(np.diff(path, axis=0) >= 0)
    moved = dtw_align.transfer(np.array([0.3]), path)
    assert moved[0] == pytest.approx(0.4, abs=0.011)


def test_banded_dtw_is_the_full_dtw_when_the_band_holds_the_path() -> None:
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((120, 6))
    real = np.repeat(ref, 2, axis=0)[::3] + 0.1 * rng.standard_normal((80, 6))  # 1.5x faster, noisy
    full, full_cost = dtw_align.dtw_path(ref, real)
    banded, banded_cost = dtw_align.dtw_path(ref, real, half_width=15)
    assert np.array_equal(full, banded) and banded_cost == pytest.approx(full_cost)
    # a band that misses the true line forces another path: the band is really applied
    off = dtw_align.band_centre(120, 80, [(60.0, 10.0)])
    shifted, shifted_cost = dtw_align.dtw_path(ref, real, half_width=4, centre=off)
    assert shifted_cost > full_cost
    assert tuple(shifted[0]) == (0, 0) and tuple(shifted[-1]) == (119, 79)
    assert np.all(np.diff(shifted, axis=0) >= 0)


def _naive_dtw_cost(ref: np.ndarray, real: np.ndarray) -> float:
    """The optimal accumulated cost by the textbook double loop: distance + 0.5 per non-diagonal step."""
    d = np.linalg.norm(ref[:, None] - real[None], axis=2)
    acc = np.full((len(ref) + 1, len(real) + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, len(ref) + 1):
        for j in range(1, len(real) + 1):
            prev = min(acc[i - 1, j - 1], acc[i - 1, j] + 0.5 if i > 1 else np.inf,
                       acc[i, j - 1] + 0.5 if j > 1 else np.inf)
            acc[i, j] = d[i - 1, j - 1] + prev
    return float(acc[-1, -1])


@pytest.mark.parametrize("seed", range(6))
def test_dtw_path_is_optimal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    r, x = (int(n) for n in rng.integers(2, 40, 2))
    ref, real = rng.standard_normal((r, 3)), rng.standard_normal((x, 3))
    path, _ = dtw_align.dtw_path(ref, real)
    steps = np.diff(path, axis=0)
    assert np.all((steps >= 0) & (steps <= 1)) and np.all(steps.sum(axis=1) >= 1)
    penalties = 0.5 * (steps.sum(axis=1) == 1).sum()
    cost = np.linalg.norm(ref[path[:, 0]] - real[path[:, 1]], axis=1).sum() + penalties
    assert cost == pytest.approx(_naive_dtw_cost(ref, real))


@pytest.mark.parametrize("seed", range(4))
def test_banded_dtw_with_uneven_band_widths_is_optimal_within_its_band(seed: int) -> None:
    # rows are processed in chunks as wide as their widest band: one very wide row (a long pause only
    # one signal has) among narrow ones, across several chunks, must still give the optimal banded path
    rng = np.random.default_rng(seed)
    r, x = 150, 240
    ref, real = rng.standard_normal((r, 3)), rng.standard_normal((x, 3))
    k = int(rng.integers(40, 110))  # a row whose coarse path runs 90 frames to the right, as in a pause
    centre = np.arange(r, dtype=np.float64) + 90.0 * (np.arange(r) > k)
    top = centre.copy()
    top[k] += 90.0
    path, _ = dtw_align.dtw_path(ref, real, 3, centre, top)
    lo, hi = dtw_align._windows(centre, 3, x, top)
    assert (hi - lo).max() > 5 * np.median(hi - lo)  # the widths really are uneven
    inside = np.zeros((r, x), bool)
    for i in range(r):
        inside[i, lo[i]:hi[i]] = True
    assert inside[path[:, 0], path[:, 1]].all()
    d = np.where(inside, np.linalg.norm(ref[:, None] - real[None], axis=2), np.inf)
    acc = np.full((r + 1, x + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, r + 1):
        for j in range(1, x + 1):
            prev = min(acc[i - 1, j - 1], acc[i - 1, j] + 0.5 if i > 1 else np.inf,
                       acc[i, j - 1] + 0.5 if j > 1 else np.inf)
            acc[i, j] = d[i - 1, j - 1] + prev
    steps = np.diff(path, axis=0)
    cost = np.linalg.norm(ref[path[:, 0]] - real[path[:, 1]], axis=1).sum() + 0.5 * (steps.sum(1) == 1).sum()
    assert cost == pytest.approx(acc[-1, -1])


def test_one_wide_band_row_does_not_widen_every_rows_arrays() -> None:
    # a 2-minute line whose coarse path has one 15 s horizontal run: the fine search's memory follows the
    # rows' own bands (before session 14 every row was as wide as the widest: ~350 MB here)
    import tracemalloc

    rng = np.random.default_rng(0)
    r, run = 6000, 1500
    ref, real = rng.standard_normal((r, 8)), rng.standard_normal((r + run, 8))
    centre = np.arange(r, dtype=np.float64) + run * (np.arange(r) > r // 2)
    top = centre.copy()
    top[r // 2] += run
    tracemalloc.start()
    try:
        path, _ = dtw_align.dtw_path(ref, real, 5, centre, top)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tuple(path[-1]) == (r - 1, r + run - 1)
    assert peak < 40e6, f"{peak / 1e6:.0f} MB"


@pytest.mark.parametrize("step", [2, 4])
def test_coarse_to_fine_finds_the_full_search_path(step: int) -> None:
    from model_server.transcript_align import COARSE_STEP, _Frames, _path, _refined

    assert COARSE_STEP in (2, 4)  # the shipped grid is one of those checked here

    rng = np.random.default_rng(3)
    base = np.cumsum(rng.standard_normal((400, 5)), axis=0)  # a smooth random "utterance"
    warp = np.clip(np.cumsum(rng.uniform(0.5, 1.6, 420)), 0, 399).astype(int)  # uneven tempo
    real_x = base[warp] + 0.2 * rng.standard_normal((420, 5))
    real_x[150:230] = real_x[150]  # a long pause only the recording has: one row's horizontal run
    ref = _Frames(base.astype(np.float32), base.astype(np.float32), (0.0, 4.0))
    real = _Frames(real_x.astype(np.float32), real_x.astype(np.float32), (0.0, 4.2))
    full, _ = dtw_align.dtw_path(ref.feats, real.feats)
    fine, fine_cost = _refined(ref, real, _path(ref, real, step)[0], step)
    assert tuple(fine[0]) == (0, 0) and tuple(fine[-1]) == (399, 419)
    assert fine_cost == pytest.approx(dtw_align.path_cost(ref.ceps, real.ceps, full), rel=0.02)
    rows = np.array([np.mean(full[full[:, 0] == i, 1]) for i in range(400)])
    refined = np.array([np.mean(fine[fine[:, 0] == i, 1]) for i in range(400)])
    assert np.median(np.abs(rows - refined)) <= 1.0


def test_slow_speech_aligns_within_a_few_frames_of_its_true_bilabials() -> None:
    # espeak-ng speaks the line slowly in another voice: the aligner's reference (default voice and rate)
    # is stretched 1.4x in time; its bilabials must land on the true ones (espeak-ng's own events)
    import soxr

    raw = espeak.shared_library().speak(TEXT, "en-us+m3", 120)
    pad = np.zeros(8000, np.float32)
    samples = np.concatenate([pad, np.asarray(soxr.resample(raw.audio, raw.sample_rate, 16000), np.float32),
                              pad])
    true = [a / raw.sample_rate + 0.5 for p, a, _ in raw.phones if p.strip("ˈˌ") in ("m", "b", "p")]
    found = transcript_align.align(samples, TEXT, "en", null=False)
    assert found is not None and found.rate_ratio < 0.85  # the recording is slower than the reference
    got = [a for p, a in zip(found.phones, found.starts_s, strict=True) if p.strip("ˈˌ") in ("m", "b", "p")]
    assert len(got) == len(true) >= 8
    errors = np.abs(np.array(got) - np.array(true))
    assert np.median(errors) < 0.03 and errors.max() < 0.1, errors


def test_own_transcript_is_used_and_closes_the_lips_at_bilabials(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    speech = _model_like(samples)
    result = dialog.transcript_targets(samples, speech, TEXT, "en")
    assert result.meta["used"], result.meta
    assert result.meta["bilabials"] >= 8 and result.meta["warning"] is None
    assert result.meta["match"] >= dialog.TRUST_MATCH[False] and result.meta["relative_cost"] > 1.05
    assert result.meta["bilabials_closed"] == result.meta["bilabials"]
    blended = dialog.blend(speech, result)
    closure = [MODEL_AUS.index(c) for c in CLOSURE_AUS]
    assert blended[:, closure].max() > speech[:, closure].max() + 0.2
    far = result.weight == 0  # away from bilabials the audio model's values are kept exactly
    assert far.any() and np.array_equal(blended[far], speech[far])
    others = [i for i in range(len(MODEL_AUS)) if i not in closure]  # only the closure AUs ever change
    assert np.array_equal(blended[:, others], speech[:, others])


def test_a_wrong_transcript_of_the_same_length_is_not_trusted(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    speech = _model_like(samples)
    right = dialog.transcript_targets(samples, speech, TEXT, "en")
    wrong = dialog.transcript_targets(samples, speech, "Sixty tired sailors rested on the sandy shore.", "en")
    assert wrong.meta["match"] < right.meta["match"] - 0.3, (wrong.meta, right.meta)
    assert not wrong.meta["used"] or wrong.meta["match"] < dialog.TRUST_MATCH[False]


def test_a_hissing_prompt_with_a_click_keeps_its_speech_span_and_its_transcript(tmp_path: Path) -> None:
    """A telephone prompt: the line padded with half a second of hiss 34 dB under its loudest frames, a
    click at the very start. The hiss lies within the 35 dB that counts as speech, so the span (the rate
    gate's length, the band's knots) used to run from end to end and the transcript was declined as far
    too short for the audio; above the noise floor and without runs under 50 ms the span is the line's."""
    clean = _samples(tmp_path)
    pad = 8000
    rng = np.random.default_rng(3)
    audio = np.concatenate([np.zeros(pad, np.float32), clean, np.zeros(pad, np.float32)])
    hop = 160
    frames = clean[: clean.size // hop * hop].reshape(-1, hop)
    loud = float(np.percentile(np.sqrt((frames ** 2).mean(axis=1)), 99))
    audio = audio + (loud * 10 ** (-34 / 20) * rng.standard_normal(audio.size)).astype(np.float32)
    audio[:80] += np.float32(0.3) * np.hanning(80).astype(np.float32)  # 5 ms click
    a0, b0 = dtw_align.speech_span_s(clean)
    old = dtw_align.speech_span_s(audio)
    assert old[0] < 0.05 and old[1] > audio.size / 16000 - 0.05  # hiss and click read as speech
    a1, b1 = dtw_align.speech_span_s(audio, transcript_align.SPAN_ABOVE_FLOOR_DB)
    assert abs(a1 - (a0 + 0.5)) < 0.06 and abs(b1 - (b0 + 0.5)) < 0.06, ((a0, b0), (a1, b1))
    assert dtw_align.speech_span_s(clean, transcript_align.SPAN_ABOVE_FLOOR_DB) == pytest.approx((a0, b0),
                                                                                                 abs=0.03)
    reading, noisy = transcript_align.read(clean, TEXT, "en"), transcript_align.read(audio, TEXT, "en")
    assert reading is not None and noisy is not None
    assert noisy.rate_ratio == pytest.approx(reading.rate_ratio, rel=0.1)
    lo, hi = dialog.RATE_RATIO_RANGE
    assert lo <= noisy.rate_ratio <= hi


@pytest.mark.parametrize(("text", "language", "words"), [
    ("😀🎉", "en", "no words"),
    (TEXT, "xx-nope", "no voice 'xx-nope'"),
    ("Whereas recognition of the inherent dignity and of the equal and inalienable rights of all members "
     "of the human family is the foundation of freedom, justice and peace in the world.", "en", "length"),
])
def test_unusable_transcripts_give_audio_only_and_a_warning(tmp_path: Path, text: str, language: str,
                                                            words: str) -> None:
    samples = _samples(tmp_path)
    speech = _model_like(samples)
    result = dialog.transcript_targets(samples, speech, text, language)
    assert result.meta["transcript"] and not result.meta["used"]
    assert words in result.meta["warning"]
    assert dialog.blend(speech, result) is speech


def test_a_transcript_far_too_long_for_its_audio_is_declined_before_it_is_aligned(tmp_path: Path) -> None:
    # a wrong or hostile text costs the server no alignment: far too many characters are declined before
    # espeak-ng reads them, a reading far longer than the recording before the model hears it
    samples = _samples(tmp_path)
    speech = _model_like(samples)
    seconds = len(samples) / 16000
    huge = dialog.transcript_targets(samples, speech, "word " * int(dialog.MAX_CHARS_PER_S * seconds), "en")
    assert not huge.meta["used"] and "far longer than the audio" in huge.meta["warning"]
    assert "rate_ratio" not in huge.meta  # not even read
    long_text = " ".join([TEXT] * 4)
    assert len(long_text) < dialog.MAX_CHARS_PER_S * seconds  # within the character bound ...
    long = dialog.transcript_targets(samples, speech, long_text, "en")
    assert not long.meta["used"] and "length does not fit" in long.meta["warning"]
    assert long.meta["rate_ratio"] > dialog.RATE_RATIO_RANGE[1] and long.meta["voice"] == "en"
    assert "dtw_cost" not in long.meta and "match" not in long.meta  # ... read, but never aligned


def test_a_word_said_slowly_on_its_own_is_aligned_a_long_slow_line_is_not() -> None:
    # "Bob" said at espeak-ng's slowest rate is 0.4x as long in the aligner's reading: too slow for a
    # sentence (RATE_RATIO_RANGE), usual for a word said on its own (a game's call-out, a language lesson)
    import soxr

    raw = espeak.shared_library().speak("Bob", "en-us+m3", 80)
    pad = np.zeros(8000, np.float32)
    samples = np.concatenate([pad, np.asarray(soxr.resample(raw.audio, raw.sample_rate, 16000), np.float32),
                              pad])
    reading = transcript_align.read(samples, "Bob", "en")
    assert reading is not None and reading.rate_ratio < dialog.RATE_RATIO_RANGE[0]
    found = transcript_align.align(samples, "Bob", "en", null=False)
    assert found is not None
    speech = 0.5 * au_targets(found.phones, found.starts_s, found.ends_s, -(-samples.size // 160))
    result = dialog.transcript_targets(samples, speech, "Bob", "en")
    meta = result.meta
    assert meta["used"] and meta["bilabials_closed"] == meta["bilabials"] == 2, meta
    short_lo, hi = dialog.rate_ratio_range(dialog.SHORT_READING_S)
    long_lo, long_hi = dialog.rate_ratio_range(dialog.LONG_READING_S + 1.0)
    assert short_lo == dialog.SHORT_RATE_RATIO_MIN < reading.rate_ratio  # the word's own reading
    assert (long_lo, long_hi) == dialog.RATE_RATIO_RANGE == (long_lo, hi)  # a line keeps the narrow range
    assert short_lo <= dialog.rate_ratio_range(0.9)[0] <= long_lo


def test_audio_longer_than_the_dialog_limit_is_audio_only() -> None:
    n = int((dialog.MAX_DIALOG_S + 1) * 16000)
    speech = np.zeros((-(-n // 160), len(MODEL_AUS)), np.float32)
    result = dialog.transcript_targets(np.zeros(n, np.float32), speech, TEXT, "en")
    assert not result.meta["used"] and "longer than 120 s" in result.meta["warning"]


@pytest.mark.parametrize(("code", "voice"), [
    ("en", "en"), ("en-US", "en-us"), ("en_US", "en-us"), ("en-GB", "en"), ("fr-FR", "fr"),
    ("fr_CA", "fr"), ("de-DE", "de"), ("es-MX", "es-419"), ("es-419", "es-419"), ("pt-BR", "pt-br"),
    ("zh", "cmn"), ("zh-Hans-CN", "cmn"), ("no", "nb"), ("  it ", "it"), ("en-gb-x-rp", "en-gb-x-rp"),
])
def test_language_tags_people_type_find_their_espeak_voice(code: str, voice: str) -> None:
    # espeak-ng looks voices up by file name: its British English is "en", its French "fr"
    assert voices.resolve_voice(code) == voice


@pytest.mark.parametrize(("name", "voice"), [
    ("French", "fr"), ("english", "en"), ("English (America)", "en-us"),
    ("Spanish (Latin America)", "es-419"), ("spanish", "es"), ("Portuguese (Brazil)", "pt-br"),
    (" german ", "de"), ("Deutsch", "de"),
    ("Français", "fr"), ("Chinese", "cmn"), ("Chinese (Cantonese)", "yue"), ("italiano", "it"),
])
def test_language_names_find_their_espeak_voice(name: str, voice: str) -> None:
    # espeak-ng's own names ("French (France)"), a name without its region (the voice with the shortest
    # file name: espeak-ng's French is "fr"), or the language's name for itself
    assert voices.resolve_voice(name) == voice


def test_every_listed_voice_is_one_espeak_ng_reads_by_the_name_resolution_gives() -> None:
    from model_server.espeak import shared_library

    library = shared_library()
    listed = voices.voice_names(library)
    assert len(listed) > 100 and ("French (France)", "fr") in listed
    assert ("English (America)", "en-us") in listed
    assert [voice for _, voice in listed if not library.has_voice(voice)] == []


@pytest.mark.parametrize("code", ["xx", "xx-nope", "Elvish", "Elvish (Sindarin)", "", "-"])
def test_codes_with_no_voice_are_unknown(code: str) -> None:
    with pytest.raises(voices.UnknownVoiceError, match="no voice"):
        voices.resolve_voice(code)


def test_a_regional_tag_reads_the_line_in_its_languages_voice(tmp_path: Path) -> None:
    samples = _samples(tmp_path)
    speech = _model_like(samples)
    plain = dialog.transcript_targets(samples, speech, TEXT, "en-us")
    tagged = dialog.transcript_targets(samples, speech, TEXT, "en_US")
    assert tagged.meta["used"] and tagged.meta["voice"] == plain.meta["voice"] == "en-us"
    assert tagged.meta["language"] == "en_US"  # what the user asked for, beside the voice that read it
    assert tagged.meta["match"] == plain.meta["match"]
    named = dialog.transcript_targets(samples, speech, TEXT, "English (America)")
    assert named.meta["voice"] == "en-us" and named.meta["match"] == plain.meta["match"]


@pytest.mark.parametrize("samples", [160, 480, 1600, 3200])
def test_a_very_short_clip_is_aligned_or_declined_for_what_it_is(samples: int) -> None:
    # a tenth of a second or less is too short to align; just above it the aligner runs (its coarse grid
    # has a few frames) and declines by the length check. Never the unknown-voice or a failed-alignment
    # warning: those would send the user after the wrong problem
    audio = (0.1 * np.random.default_rng(samples).standard_normal(samples)).astype(np.float32)
    speech = np.zeros((-(-samples // 160), len(MODEL_AUS)), np.float32)
    result = dialog.transcript_targets(audio, speech, TEXT, "en")
    assert result.meta["transcript"] and not result.meta["used"]
    warning = result.meta["warning"]
    if samples < dialog.MIN_DIALOG_S * 16000:
        assert "too short to align" in warning, warning
    else:
        assert "length does not fit" in warning, warning
    assert "no voice" not in warning and "could not be aligned" not in warning


def test_no_transcript_means_no_dialog_mode() -> None:
    speech = np.zeros((10, len(MODEL_AUS)), np.float32)
    result = dialog.transcript_targets(np.zeros(1600, np.float32), speech, "  ", "en")
    assert result.meta == dialog.dialog_meta(False, "en")


def test_readings_are_kept_within_their_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    transcript_align.clear_readings()
    first = transcript_align.synthesis("Bob", "en", 175)
    assert first is not None and not first[0].flags.writeable
    assert transcript_align.synthesis("Bob", "en", 175) is first  # the same reading: the same alignment
    assert transcript_align.synthesis("Bob", "en", 200) is not first  # another rate is another reading
    monkeypatch.setattr(transcript_align, "SYNTHESIS_CACHE_TEXTS", 2)
    for text in ("Anna", "Paul"):
        transcript_align.synthesis(text, "en", 175)
    assert transcript_align.synthesis("Bob", "en", 175) is not first  # the oldest went first
    monkeypatch.setattr(transcript_align, "SYNTHESIS_CACHE_S", 0.5)  # shorter than any padded reading
    kept = transcript_align.synthesis("Mum", "en", 175)
    assert transcript_align.synthesis("Mum", "en", 175) is not kept
    transcript_align.clear_readings()


def test_missing_espeak_library_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> espeak.EspeakLibrary:
        raise espeak.EspeakUnavailableError("libespeak-ng is not installed (Debian package libespeak-ng1)")

    monkeypatch.setattr(espeak, "shared_library", missing)
    transcript_align.clear_readings()  # a kept reading of TEXT would need no library
    samples = np.zeros(16000, np.float32)
    samples[4000:12000] = 0.1 * np.sin(np.arange(8000) * 0.1)
    result = dialog.transcript_targets(samples, np.zeros((100, len(MODEL_AUS)), np.float32), TEXT, "en")
    assert not result.meta["used"] and "libespeak-ng is not installed" in result.meta["warning"]


# --- the add-on's request (pure half) ----------------------------------------------------------------------

def test_addon_request_takes_the_panel_text_else_the_sidecar(tmp_path: Path) -> None:
    from blender_addon.animation import generation

    wav = tmp_path / "line.wav"
    wav.write_bytes(b"RIFF")
    req = generation.GenerateRequest(str(wav), "http://127.0.0.1:1", 24.0, language="de")
    assert req.with_transcript().transcript == ""
    (tmp_path / "line.txt").write_text("Guten Morgen, Mama!\n", encoding="utf-8")
    resolved = req.with_transcript()
    assert resolved.server_options().transcript == "Guten Morgen, Mama!\n"
    assert resolved.server_options().language == "de"
    typed = generation.GenerateRequest(str(wav), "http://127.0.0.1:1", 24.0, transcript="Hallo")
    assert typed.with_transcript().transcript == "Hallo"
    (tmp_path / "line.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(generation.GenerationError, match="not UTF-8"):
        req.with_transcript()


def test_addon_shows_the_servers_transcript_warning() -> None:
    from au_contract.tracks import TrackSet
    from blender_addon.animation import generation

    def tracks(dialog_meta: dict) -> TrackSet:
        return TrackSet(fps=30.0, frame_count=1, duration_s=0.03, channels={}, meta={"dialog": dialog_meta})

    assert generation.dialog_warning(tracks(dialog.dialog_meta(False, "en"))) is None
    bad = dialog.dialog_meta(True, "xx", False, "espeak-ng has no voice 'xx'")
    assert generation.dialog_warning(tracks(bad)) == "Transcript: espeak-ng has no voice 'xx'"
    # a transcript used without a warning is confirmed, with the voice that read it and what it closed
    good = dialog.dialog_meta(True, "en-US", True, None, bilabials=9, bilabials_closed=9, voice="en-us")
    assert generation.dialog_warning(tracks(good)) is None
    assert generation.dialog_note(tracks(good)) == "Transcript used (en-us): 9 of 9 p/b/m closed"
    assert generation.dialog_note(tracks(bad)) is None
    assert generation.dialog_note(tracks(dialog.dialog_meta(False, "en"))) is None
