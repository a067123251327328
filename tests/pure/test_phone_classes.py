"""Phone classes of the acoustic model's auxiliary output: the map, frame labels, training sets, metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_server import phonetics
from model_server.coarticulation import _subsegments
from model_server.phonetics import (
    PHONE_CLASSES,
    phone_class_frames,
    phone_classes,
    symbol_class,
)

C = {name: i for i, name in enumerate(PHONE_CLASSES)}


def test_classes_are_defined_once_in_this_order() -> None:
    assert PHONE_CLASSES == ("silence", "bilabial", "labiodental", "dental_alveolar", "velar",
                             "rounded_vowel", "open_vowel", "other_vowel")
    assert phonetics.N_PHONE_CLASSES == 8 and phonetics.SILENCE_CLASS == 0


@pytest.mark.parametrize(("symbol", "name"), [
    ("_", "silence"), ("p", "bilabial"), ("b", "bilabial"), ("m", "bilabial"),
    ("f", "labiodental"), ("v", "labiodental"), ("β", "labiodental"), ("ʋ", "labiodental"),
    ("t", "dental_alveolar"), ("θ", "dental_alveolar"), ("ʃ", "dental_alveolar"), ("tʃ", "dental_alveolar"),
    ("ɹ", "dental_alveolar"), ("ɲ", "dental_alveolar"), ("j", "dental_alveolar"), ("ɫ", "dental_alveolar"),
    ("k", "velar"), ("ŋ", "velar"), ("ʁ", "velar"), ("h", "velar"), ("ʔ", "velar"), ("x", "velar"),
    ("u", "rounded_vowel"), ("o", "rounded_vowel"), ("y", "rounded_vowel"), ("ø", "rounded_vowel"),
    ("ɔ", "rounded_vowel"), ("w", "rounded_vowel"), ("ɵ", "rounded_vowel"),
    ("a", "open_vowel"), ("ɑ", "open_vowel"), ("æ", "open_vowel"), ("ʌ", "open_vowel"), ("ɐ", "open_vowel"),
    ("i", "other_vowel"), ("e", "other_vowel"), ("ɛ", "other_vowel"), ("ə", "other_vowel"),
    ("ɚ", "other_vowel"), ("ɯ", "other_vowel"),
])
def test_symbol_classes(symbol: str, name: str) -> None:
    assert PHONE_CLASSES[symbol_class(symbol)] == name


def test_engine_phone_sets() -> None:
    assert phone_classes("aɪ") == (C["open_vowel"], C["other_vowel"])  # espeak-ng / Piper diphthong
    assert phone_classes("ˈaː") == (C["open_vowel"],)  # Piper stress and length marks
    assert phone_classes("y") == (C["rounded_vowel"],)  # IPA /y/ ...
    assert phone_classes("y", "arpabet") == (C["dental_alveolar"],)  # ... but Festival/Flite "y" is /j/
    assert phone_classes("uw", "arpabet") == (C["rounded_vowel"],)
    assert phone_classes("AY1", "arpabet") == (C["open_vowel"], C["other_vowel"])
    assert phone_classes("hh", "arpabet") == (C["velar"],)
    assert phone_classes("pau", "arpabet") == (C["silence"],)
    assert phone_classes("em", "arpabet") == (C["other_vowel"], C["bilabial"])
    with pytest.raises(ValueError, match="ARPABET"):
        phone_classes("qq", "arpabet")
    with pytest.raises(ValueError, match="phone_set"):
        phone_classes("a", "sampa")


def test_every_table_symbol_has_a_class() -> None:
    for table in (phonetics._VOWELS, phonetics._CONSONANTS, phonetics.ARPABET_TO_IPA):
        for key in table:
            phone = phonetics.ARPABET_TO_IPA[key] if table is phonetics.ARPABET_TO_IPA else key
            assert all(0 <= c < len(PHONE_CLASSES) for c in phone_classes(phone))


def test_frame_labels_of_a_known_sequence() -> None:
    phones = ["_", "m", "aɪ", "k", "u", "_"]
    starts = np.array([0.0, 0.105, 0.205, 0.405, 0.505, 0.705])
    ends = np.array([0.105, 0.205, 0.405, 0.505, 0.705, 0.805])
    labels = phone_class_frames(phones, starts, ends, 85)
    expected = ([C["silence"]] * 11 + [C["bilabial"]] * 10 + [C["open_vowel"]] * 11  # aɪ: /a/ 55 %
                + [C["other_vowel"]] * 9 + [C["velar"]] * 10 + [C["rounded_vowel"]] * 20
                + [C["silence"]] * 14)  # the last pause, then frames past the clip's end
    assert labels.tolist() == expected
    assert labels.dtype == np.int64
    assert phone_class_frames([], np.zeros(0), np.zeros(0), 3).tolist() == [0, 0, 0]


def test_labels_split_phones_as_the_targets_do() -> None:
    """The label split of multi-symbol phones is the coarticulation targets' split (reference twin)."""
    phones = ["_", "aɪ", "tʃ", "əl", "oʊ", "sx", "ɐ̃ʊ̃", "b", "_"]
    bounds = np.cumsum([0.0, 0.123, 0.2, 0.087, 0.15, 0.31, 0.12, 0.16, 0.07, 0.2])
    starts, ends = bounds[:-1], bounds[1:]
    labels = phone_class_frames(phones, starts, ends, int(bounds[-1] * 100) + 1)
    subs = _subsegments(phones, starts, ends)
    assert len(subs) == 14
    for sym, a, b, _ in subs:
        mid = round((a + b) / 2 * 100)
        assert labels[mid] == symbol_class(sym), (sym, a, b)


def _clip(phones: list[str], bounds: list[float]):
    from model_training.corpus_build import Clip

    rng = np.random.default_rng(0)
    n = int(bounds[-1] * 16000)
    audio = (rng.normal(0, 0.1, n) * 32767 * 0.3).astype(np.int16)
    return Clip(audio, phones, np.array(bounds[:-1]), np.array(bounds[1:]), {"source": "test",
                "speaker": "test", "language": "en", "split": "train"})


def test_training_labels_follow_the_targets_timing_under_augmentation() -> None:
    from au_contract import MODEL_AUS
    from model_training.dataset import clip_example

    clip = _clip(["_", "a", "m", "a", "p", "u", "_"], [0.0, 0.3, 0.5, 0.62, 0.8, 0.9, 1.1, 1.4])
    for seed in (None, 0, 8, 10):  # speed x1.19, x0.86, x0.85 (labels must follow the rescaled timings)
        rng = None if seed is None else np.random.default_rng(seed)
        feats, targets, labels = clip_example(clip, rng)
        assert len(labels) == len(targets) == len(feats)
        closed = targets[:, MODEL_AUS.index("AU24")] >= 0.79  # full closure in the targets
        assert closed.sum() >= 10
        assert np.mean(labels[closed] == C["bilabial"]) >= 0.9
        assert labels[0] == labels[-1] == C["silence"]
        assert (labels == C["rounded_vowel"]).sum() >= 10


def test_frame_sets_carry_labels(tmp_path: Path) -> None:
    from model_training.dataset import CropSampler, FrameSet, build

    clips = [_clip(["_", "m", "a", "_"], [0.0, 0.2, 0.35, 0.6, 0.8]) for _ in range(2)]
    frames = build(clips, copies=1, seed=0, background_share=0.5)
    assert frames.labels.shape == (len(frames.feats),) and frames.labels.dtype == np.int8
    first = frames.meta.index(next(m for m in frames.meta if m["source"] == "test"))
    assert frames.meta[0]["source"] == "background"
    assert not frames.labels[:frames.offsets[first]].any()  # speech-free clips: silence throughout
    path = tmp_path / "f.npz"
    frames.save(path)
    again = FrameSet.load(path)
    np.testing.assert_array_equal(again.labels, frames.labels)
    np.savez(tmp_path / "old.npz", feats=frames.feats, targets=frames.targets, offsets=frames.offsets,
             meta=np.array("[]"))
    with pytest.raises(ValueError, match="phone-class labels"):
        FrameSet.load(tmp_path / "old.npz")
    # Crops keep labels aligned with the frames: encode each frame's index in its features.
    n = 500
    indexed = FrameSet(np.arange(n, dtype=np.float32)[:, None].repeat(2, 1), np.zeros((n, 1), np.float32),
                       np.array([0, 30, 400, n]), [{}] * 3, (np.arange(n) % 8).astype(np.int8))
    x, _, c = CropSampler(indexed, 50, seed=0).batch(16)
    assert c.shape == (16, 50) and c.dtype == np.int64
    np.testing.assert_array_equal(c, x[..., 0].astype(np.int64) % 8)


def test_frame_cache_key_covers_the_label_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model_training import dataset
    from model_training.recipe import RECIPES, code_version

    before = code_version(RECIPES["tiny"])
    for module in (phonetics, dataset):
        copy = tmp_path / Path(str(module.__file__)).name
        copy.write_bytes(Path(str(module.__file__)).read_bytes() + b"\n# changed\n")
        with monkeypatch.context() as patch:
            patch.setattr(module, "__file__", str(copy))
            assert code_version(RECIPES["tiny"]) != before, module.__name__


def test_confusion_and_summary() -> None:
    from model_training import phone_eval

    labels = np.array([0, 0, 0, 1, 1, 5])
    logits = np.zeros((6, 8))
    logits[np.arange(6), [0, 0, 3, 1, 0, 5]] = 1.0
    conf = phone_eval.confusion(logits, labels)
    assert conf.sum() == 6 and conf[0, 0] == 2 and conf[0, 3] == 1 and conf[1, 0] == 1
    row = phone_eval.summary(conf)
    assert row["frames"] == 6 and row["accuracy"] == pytest.approx(4 / 6)
    assert row["recall_silence"] == pytest.approx(2 / 3) and row["recall_bilabial"] == 0.5
    assert row["mean_recall"] == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)  # absent classes are skipped
    assert np.isnan(row["recall_velar"])
    lines = phone_eval.table_lines({"all": conf})
    assert len(lines) == 2 and "bilab" in lines[0]
    assert len(phone_eval.confusion_lines(conf)) == 9
    with pytest.raises(ValueError, match="frames"):
        phone_eval.confusion(logits[:5], labels)

