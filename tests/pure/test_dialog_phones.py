"""Dialog mode with the model's phone classes: the match score's phone term, the loose tier's bilabial
evidence, and the pipeline's posteriors for long recordings (chunked like the AUs)."""

from __future__ import annotations

import numpy as np

from au_contract import MODEL_AUS
from model_server import dialog, pipeline, prosody
from model_server.phonetics import N_PHONE_CLASSES, PHONE_CLASSES, SILENCE_CLASS, phone_class_frames
from model_server.transcript_align import Alignment, ModelFrames

PHONES = ["_", "a", "m", "a", "p", "i", "_"]
STARTS = np.array([0.0, 0.2, 0.4, 0.5, 0.7, 0.8, 1.0])
ENDS = np.array([0.2, 0.4, 0.5, 0.7, 0.8, 1.0, 1.2])
N = 120


def _alignment(null: bool = True) -> Alignment:
    reversed_ = (PHONES[::-1], 1.2 - ENDS[::-1], 1.2 - STARTS[::-1])
    return Alignment(PHONES, STARTS, ENDS, cost=1.0, null_cost=1.2, rate_ratio=1.0, rate_wpm=175,
                     null_segments=reversed_ if null else None)


def _posteriors_of(labels: np.ndarray, confidence: float = 0.9) -> np.ndarray:
    """[T, C] posteriors that favour ``labels`` with ``confidence`` (the rest spread evenly)."""
    out = np.full((len(labels), N_PHONE_CLASSES), (1 - confidence) / (N_PHONE_CLASSES - 1), np.float32)
    out[np.arange(len(labels)), labels] = confidence
    return out


def test_phone_gain_rewards_the_aligned_classes_over_the_reversed_reading() -> None:
    found = _alignment()
    labels = phone_class_frames(PHONES, STARTS, ENDS, N)
    null_labels = phone_class_frames(*found.null_segments, N)  # type: ignore[misc]
    assert (labels != null_labels).sum() >= 40  # the reversed reading really differs
    right = dialog.phone_gain(found, _posteriors_of(labels))
    wrong = dialog.phone_gain(found, _posteriors_of(null_labels))
    flat = dialog.phone_gain(found, np.full((N, N_PHONE_CLASSES), 1 / N_PHONE_CLASSES, np.float32))
    assert right > 1.0 and wrong < -1.0 and flat == 0.0
    assert dialog.phone_gain(_alignment(null=False), _posteriors_of(labels)) == 0.0
    # the phone term moves the score by its weight; without posteriors the score is the older one
    with_phones = dialog.match_score(1.1, 0.2, right)
    assert with_phones == dialog.match_score(1.1, 0.2) + dialog.PHONE_GAIN_WEIGHT * right


def test_phone_fit_measures_the_aligned_classes_against_the_best_ones() -> None:
    found = _alignment()
    labels = phone_class_frames(PHONES, STARTS, ENDS, N)
    null_labels = phone_class_frames(*found.null_segments, N)  # type: ignore[misc]
    assert dialog.phone_fit(found, _posteriors_of(labels)) == 0.0  # the model hears exactly these classes
    wrong = dialog.phone_fit(found, _posteriors_of(null_labels))
    # where the classes differ the aligned one is 0.9 / (0.1 / 7) = 63 times less likely than the best
    speech = labels != SILENCE_CLASS
    share = ((labels != null_labels) & speech).sum() / speech.sum()
    assert abs(wrong - share * np.log(0.1 / 7 / 0.9)) < 1e-4 and wrong < -1.0
    flat = np.full((N, N_PHONE_CLASSES), 1 / N_PHONE_CLASSES, np.float32)
    assert dialog.phone_fit(found, flat) == 0.0  # a model that hears nothing cannot tell
    silent = Alignment(["_"], np.array([0.0]), np.array([1.2]), 1.0, 1.2, 1.0, 175)
    assert dialog.phone_fit(silent, _posteriors_of(labels)) == 0.0
    # the fit counts from PHONE_FIT_OFFSET with its weight
    score = dialog.match_score(1.1, 0.2, 0.5, -0.5)
    expected = dialog.match_score(1.1, 0.2, 0.5) + dialog.PHONE_FIT_WEIGHT * (dialog.PHONE_FIT_OFFSET - 0.5)
    assert abs(score - expected) < 1e-9


def test_the_loose_tier_needs_the_bilabial_class_as_well_as_the_lips() -> None:
    speech = np.zeros((N, len(MODEL_AUS)), np.float32)
    speech[:, MODEL_AUS.index("AU25")] = 0.5
    speech[40:50, MODEL_AUS.index("AU24")] = 0.3  # closure evidence at /m/ (0.4-0.5 s) only
    windows = [(0.4, 0.5), (0.7, 0.8)]
    assert dialog._evidenced(windows, speech) == [(0.4, 0.5)]  # no posteriors: the lips decide
    post = _posteriors_of(np.zeros(N, np.int64))
    assert dialog._evidenced(windows, speech, post) == []  # the model hears no bilabial anywhere
    post[42, PHONE_CLASSES.index("bilabial")] = dialog.MIN_BILABIAL_POSTERIOR + 0.01
    assert dialog._evidenced(windows, speech, post) == [(0.4, 0.5)]
    speech[70:80, MODEL_AUS.index("AU24")] = 0.3
    assert dialog._evidenced(windows, speech, post) == [(0.4, 0.5)]  # /p/: lips, but no bilabial heard


def test_long_recordings_get_posteriors_for_every_frame() -> None:
    # over 2 x CHUNK_S the model runs in chunks with context; the posteriors are stitched like the AUs
    model = pipeline.get_model("cpu")
    rng = np.random.default_rng(0)
    seconds = 2 * pipeline.CHUNK_S + 5
    t = np.arange(int(seconds * 16000)) / 16000
    samples = (0.1 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
               + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    n = -(-samples.size // prosody.HOP)
    presence = pipeline._presence(prosody.analyse(samples, n))
    heard = pipeline._speech_frames(model, samples, presence, phones=True)
    assert isinstance(heard, ModelFrames) and heard.aus.shape == (n, len(MODEL_AUS))
    assert heard.phones is not None and heard.phones.shape == (n, N_PHONE_CLASSES)
    np.testing.assert_allclose(heard.phones.sum(axis=1), 1.0, atol=1e-4)  # no frame left unfilled
    plain = pipeline._speech_frames(model, samples, presence)
    assert plain.phones is None and np.array_equal(plain.aus, heard.aus)


def test_the_aligner_reuses_the_models_log_mel() -> None:
    # dialog mode computes one spectrum per signal: the cepstra come from the frames the model heard
    from model_server import dtw_align
    from model_server.features import log_mel

    model = pipeline.get_model("cpu")
    rng = np.random.default_rng(1)
    for n in (16000, 16160, 7):  # a partial last frame, an exact multiple of the hop, a few samples
        samples = (0.1 * rng.standard_normal(n)).astype(np.float32)
        track = prosody.analyse(samples, -(-n // prosody.HOP))
        heard = pipeline._speech_frames(model, samples, pipeline._presence(track), phones=True)
        assert heard.mel is not None and np.array_equal(heard.mel, log_mel(samples))
        shared = dtw_align.features(samples, heard.mel)
        assert shared.shape == (1 + n // 160, 25) and np.isfinite(shared).all()
        np.testing.assert_array_equal(shared, dtw_align.features(samples))


def _heard_bilabial(*spans: int) -> tuple[ModelFrames, np.ndarray, list[slice]]:
    """Model frames of the demo line whose posterior hears a 60 ms bilabial at each of ``spans`` (indices
    into the frames where somebody speaks), the line's speech presence and the bilabials' frames."""
    from pathlib import Path

    from model_server.decode import decode_audio

    samples = decode_audio((Path(__file__).resolve().parents[2] / "assets" / "demo_speech.wav").read_bytes()
                           ).samples
    n = -(-samples.size // prosody.HOP)
    presence = pipeline._presence(prosody.analyse(samples, n))
    speaking = np.nonzero(presence > 0.99)[0]
    labels = np.full(n, PHONE_CLASSES.index("open_vowel"))
    frames = [slice(speaking[k], speaking[k] + 6) for k in spans]
    for f in frames:
        labels[f] = PHONE_CLASSES.index("bilabial")
    return ModelFrames(np.zeros((n, len(MODEL_AUS)), np.float32), _posteriors_of(labels)), presence, frames


def test_the_closure_stage_hears_the_models_bilabial_posterior() -> None:
    heard, presence, (frames,) = _heard_bilabial(20)
    evidence = pipeline._bilabial_evidence(heard, presence, dialog.DialogResult())
    assert evidence is not None and evidence.shape == (heard.aus.shape[0],)
    assert evidence[frames].max() > 0.7  # smoothed over 20 ms: a little under 0.9
    far = np.ones(evidence.size, bool)
    far[frames.start - 10:frames.stop + 10] = False
    assert evidence[far].max() < 0.1
    # weights without the phone-class output: no evidence, the closure AUs decide as before
    assert pipeline._bilabial_evidence(ModelFrames(heard.aus), presence, dialog.DialogResult()) is None


def test_a_loose_transcript_adds_its_closures_and_a_trusted_one_writes_them_into_the_aus() -> None:
    heard, presence, (text_frames, heard_frames) = _heard_bilabial(20, 60)
    weight = np.zeros(heard.aus.shape[0], np.float32)
    weight[text_frames] = 1.0  # the aligned text has a bilabial the network hears, and it hears another
    loose = pipeline._bilabial_evidence(heard, presence, dialog.DialogResult(weight=weight, trusted=False))
    assert loose is not None and loose[text_frames].min() == 1.0
    assert loose[heard_frames].max() > 0.7  # a loose match keeps every closure the audio shows
    # a trusted text's closures are in the closure AUs (dialog.blend): the closure stage reads those
    trusted = pipeline._bilabial_evidence(heard, presence, dialog.DialogResult(weight=weight, trusted=True))
    assert trusted is None
