"""Recipe.timing_version: espeak-ng stops start at their closure (2) or at their release (1, recipe v15),
and the switch leaves the cache keys of the recipes that do not use it as they were."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from model_server import espeak
from model_training import recipe
from model_training.timing import TimedSpeech

pytestmark = pytest.mark.pure

SYSTEM_LOADS = Path(espeak.system_source().path).is_file() if espeak.system_source() else False
#: v14w's clip pickle names (.cache/training/v14w), measured before the switch existed.
V14W_CLIPS = {("train", "espeak", 2500): "clips_train_espeak_2500_s0_ce5657.pkl",
              ("train", "festival", 400): "clips_train_festival_400_s0_ce5657.pkl",
              ("train", "kokoro", 300): "clips_train_kokoro_300_s0_ce56578b4d.pkl",
              ("train", "asterisk", 562): "clips_train_asterisk_562_s0_ce56576a9d.pkl",
              ("val", "piper", 10): "clips_val_piper_10_s0_ce5657.pkl",
              ("heldout", "flite", 60): "clips_heldout_flite_60_s0_ce5657.pkl"}


def test_v14w_keeps_its_cache_keys_and_v15_shares_only_the_untimed_sources() -> None:
    v14w, v15 = recipe.RECIPES["v14w"], recipe.RECIPES["v15"]
    assert (v14w.timing_version, v15.timing_version) == (2, 1)
    assert replace(v15, name="v14w", timing_version=2) == v14w  # v15 differs by its timings alone
    for (split, source, n), name in V14W_CLIPS.items():
        assert recipe.clip_path(v14w, Path("c"), split, source, n, 0).name == name
        same = recipe.clip_path(v15, Path("c"), split, source, n, 0).name == name
        assert same == (source not in recipe.TIMED_SOURCES), (source, same)
    assert recipe.code_version(v15) != recipe.code_version(v14w)  # its frames are built anew


@pytest.mark.skipif(not SYSTEM_LOADS, reason="libespeak-ng1 is a Debian dependency")
def test_timing_version_1_starts_unvoiced_stops_at_their_release() -> None:
    from model_training.espeak_gen import EspeakEngine, EspeakVoice

    voice = EspeakVoice("en-us")
    closure = EspeakEngine().synthesize("a tapa top", voice)
    release = EspeakEngine(closures=False).synthesize("a tapa top", voice)
    # libespeak-ng's audio varies by a few samples from call to call, not its phones
    assert abs(closure.duration_s - release.duration_s) < 0.02
    assert [p for p in closure.phones if p != "_"] == [p for p in release.phones if p != "_"]

    def stops(speech: TimedSpeech) -> list[float]:
        return [float(a) for p, a in zip(speech.phones, speech.starts_s, strict=True) if p in ("p", "t")]

    early, late = stops(closure), stops(release)
    assert len(early) == len(late) == 4, (closure.phones, release.phones)
    # every /t/ and /p/ after a vowel starts later, at its release, by its closure's ~40-50 ms (a closure
    # of 40 ms or more is a pause of its own then, as in v12's clips)
    shifts = [b - a for a, b in zip(early, late, strict=True)]
    assert min(shifts) > 0.02 and max(shifts) < 0.09, shifts
    assert "_" in release.phones[:-1] and "_" not in closure.phones[:-1]


def test_v20_is_v16_plus_blended_kokoro_voices_and_shares_every_other_clip_cache() -> None:
    v16, v20 = recipe.RECIPES["v16"], recipe.RECIPES["v20"]
    for split in ("train", "val"):
        assert v20.clips[split] == {**v16.clips[split], "kokoro_blend": v20.clips[split]["kokoro_blend"]}
    assert v20.clips["heldout"] == v16.clips["heldout"]  # the same held-out voices as every recipe since v12
    assert replace(v20, name="v16", clips=v16.clips) == v16
    for (split, source, n), name in V14W_CLIPS.items():
        assert recipe.clip_path(v20, Path("c"), split, source, n, 0).name == name
    blend = recipe.clip_path(v20, Path("c"), "train", "kokoro_blend", 400, 0).name
    assert blend.startswith("clips_train_kokoro_blend_400_s0_")
