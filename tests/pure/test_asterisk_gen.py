"""model_training.asterisk_gen: the CC-BY-3.0 Asterisk prompts as training clips.

Three Italian prompts go through the real espeak-ng + DTW aligner (a few seconds). Needs the packages
``asterisk-core-sounds-it-g722`` and ``asterisk-core-sounds-it``, unpacked under ``.cache/devset/root`` by
``python -m model_training.devset`` (or fetched here with ``apt-get download``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_training import asterisk_gen, devset
from model_training.asterisk_gen import SpeakerBuild

pytestmark = pytest.mark.pure

SPEAKER = "asterisk:it-carlo"


def _pool() -> list[tuple[Path, str]]:
    spk = asterisk_gen.speaker_of(SPEAKER)
    return devset.candidates(spk, devset.CACHE)


@pytest.fixture(scope="module")
def small_build() -> SpeakerBuild:
    """Two train prompts and one val prompt of 4-12 words, aligned for real."""
    spk = asterisk_gen.speaker_of(SPEAKER)
    pool = [(f, t) for f, t in _pool() if 4 <= len(t.split()) <= 12]
    train = [x for x in pool if asterisk_gen.prompt_split(asterisk_gen.prompt_name(x[0], spk)) == "train"]
    val = [x for x in pool if asterisk_gen.prompt_split(asterisk_gen.prompt_name(x[0], spk)) == "val"]
    return asterisk_gen.align_prompts(spk, train[:2] + val[:1])


def test_only_cc_by_speakers_train_and_each_has_its_attribution() -> None:
    licences = {s.speaker: s.licence for s in devset.SPEAKERS}
    assert asterisk_gen.TRAIN_SPEAKERS == ("asterisk:it-carlo", "asterisk:ru-maxim")
    assert all(licences[s] == "CC-BY-3.0" for s in asterisk_gen.TRAIN_SPEAKERS)
    assert set(asterisk_gen.ATTRIBUTION) == set(asterisk_gen.TRAIN_SPEAKERS)
    assert all("creativecommons.org/licenses/by/3.0" in a for a in asterisk_gen.ATTRIBUTION.values())
    for other in ("asterisk:es-allison", "asterisk:fr-june", "asterisk:it-menardi", "ktuberling:it"):
        with pytest.raises(ValueError, match="not a training speaker"):
            asterisk_gen.speaker_of(other)
    assert list(asterisk_gen.asterisk_clips(5, 0, "heldout")) == []


def test_prompts_split_by_name_about_five_percent_to_val() -> None:
    spk = asterisk_gen.speaker_of(SPEAKER)
    names = [asterisk_gen.prompt_name(f, spk) for f, _ in _pool()]
    assert len(names) > 250 and all("." not in n for n in names)
    splits = [asterisk_gen.prompt_split(n) for n in names]
    assert splits == [asterisk_gen.prompt_split(n) for n in names]  # stable
    assert set(splits) == {"train", "val"}
    assert 0.02 < splits.count("val") / len(splits) < 0.09


def test_three_prompts_align_with_sane_meta_and_timings(small_build: SpeakerBuild) -> None:
    assert small_build.speaker == SPEAKER and small_build.pool == 3 and len(small_build.prompts) == 3
    assert small_build.align_s > 0 and small_build.decode_s > 0
    for p in small_build.prompts:
        c = p.clip
        assert c.audio.dtype == np.int16
        assert 0.65 * 32767 < np.abs(c.audio.astype(np.int32)).max() <= 0.7 * 32767 + 1
        duration_s = len(c.audio) / 16000
        assert 0.5 < duration_s <= 10.0
        assert len(c.phones) == len(c.starts_s) == len(c.ends_s) > 8
        assert c.starts_s[0] == 0 and np.isclose(c.ends_s[-1], duration_s)
        assert np.allclose(c.starts_s[1:], c.ends_s[:-1]) and np.all(c.ends_s >= c.starts_s)
        assert sum(ph != "_" for ph in c.phones) > 8
        assert c.meta["source"] == "asterisk" and c.meta["speaker"] == SPEAKER
        assert c.meta["language"] == "it" and c.meta["licence"] == "CC-BY-3.0"
        assert c.meta["file"].endswith(".g722") and len(c.meta["text"].split()) >= 4
        assert float(c.meta["align_cost"]) == pytest.approx(p.cost, abs=1e-3) and p.cost <= devset.MAX_COST
        assert 80 <= p.rate_wpm <= 450


def test_train_and_val_clips_come_from_disjoint_prompts(small_build: SpeakerBuild) -> None:
    train = asterisk_gen.gated_clips(small_build, "train")
    val = asterisk_gen.gated_clips(small_build, "val")
    assert {c.meta["split"] for c in train} <= {"train"} and {c.meta["split"] for c in val} <= {"val"}
    assert len(train) == 2 and len(val) == 1  # three good prompts, all within the gate
    assert not {c.meta["file"] for c in train} & {c.meta["file"] for c in val}
    assert "split" not in small_build.prompts[0].clip.meta  # the cached clip is not changed


def test_draws_are_seeded_and_a_larger_draw_extends_a_smaller_one(small_build: SpeakerBuild) -> None:
    clips = [p.clip for p in small_build.prompts]
    files = [[c.meta["file"] for c in asterisk_gen.draw(clips, n, 7, "train")] for n in (2, 3, 3, 10)]
    assert files[1] == files[2] == files[3] and files[0] == files[1][:2]
    orders = {tuple(c.meta["file"] for c in asterisk_gen.draw(clips, 3, seed, "train")) for seed in range(12)}
    assert len(orders) > 1
