"""Precise mode (model_server.views): the model hears the voice three ways and averages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from au_contract import MODEL_AUS
from model_server.acoustic import AcousticModel
from model_server.features import FMAX_HZ, FMIN_HZ, N_MELS, hz_to_mel, log_mel, mel_to_hz
from model_server.pipeline import PredictOptions, predict_tracks
from model_server.views import PRECISE_FACTORS, warped
from tests.fixtures import espeak_clip

_CENTRES_HZ = mel_to_hz(np.linspace(hz_to_mel(FMIN_HZ), hz_to_mel(FMAX_HZ), N_MELS + 2)[1:-1])


def test_a_warp_moves_a_formant_by_its_factor() -> None:
    # a single "formant" in band 30: heard as from a shorter vocal tract (x1.1), the band whose centre is
    # 1.1 x lower reads it, i.e. it appears where centre x 1.1 = its frequency
    mel = np.full((4, N_MELS), -80.0, np.float32)
    mel[:, 30] = 0.0
    assert warped(mel, 1.0) is mel
    for factor in (0.9, 1.1):
        peak = int(np.argmax(warped(mel, factor)[0]))
        expected = int(np.argmin(np.abs(_CENTRES_HZ * factor - _CENTRES_HZ[30])))
        assert peak == expected and peak != 30, (factor, peak, expected)
    assert int(np.argmax(warped(mel, 1.1)[0])) < 30 < int(np.argmax(warped(mel, 0.9)[0]))
    assert warped(np.zeros((0, N_MELS), np.float32), 1.1).shape == (0, N_MELS)


@pytest.mark.parametrize("factor", [0.0, 0.3, 2.5, float("nan")])
def test_a_bad_factor_is_refused(factor: float) -> None:
    with pytest.raises(ValueError, match="factor"):
        warped(np.zeros((3, N_MELS), np.float32), factor)


def test_the_views_average_the_network_over_warped_frames(tmp_path: Path) -> None:
    model = AcousticModel.load(device="cpu")
    clip = espeak_clip(tmp_path, "bob met my mum by the map")
    import soundfile as sf

    audio, _ = sf.read(clip.path, dtype="float32")
    one = model.predict_views(audio, (1.0,))
    plain = model.predict_output(audio)
    np.testing.assert_array_equal(one.aus, plain.aus)  # one view is the plain output, exactly
    np.testing.assert_array_equal(one.phone_logits, plain.phone_logits)
    three = model.predict_views(audio, PRECISE_FACTORS)
    mel = log_mel(audio)
    outs = [model.output_features(warped(mel, f)) for f in PRECISE_FACTORS]
    np.testing.assert_allclose(three.aus, np.mean([o.aus for o in outs], axis=0), atol=1e-6)
    np.testing.assert_allclose(three.phone_logits, np.mean([o.phone_logits for o in outs], axis=0), atol=1e-5)
    np.testing.assert_array_equal(three.mel, mel)  # the frames heard as they are
    assert np.abs(three.aus - one.aus).max() > 0.01  # the other views are heard


def test_precise_tracks_differ_close_the_bilabials_and_repeat(tmp_path: Path) -> None:
    clip = espeak_clip(tmp_path, "bob met my mum by the map")
    data = clip.path.read_bytes()
    plain = predict_tracks(data, PredictOptions(blinks=False, prosody=False))
    precise = predict_tracks(data, PredictOptions(blinks=False, prosody=False, precise=True))
    again = predict_tracks(data, PredictOptions(blinks=False, prosody=False, precise=True))
    assert precise.meta["options"]["precise"] is True and plain.meta["options"]["precise"] is False
    for code in MODEL_AUS:
        np.testing.assert_array_equal(precise.channels[code], again.channels[code])
    assert max(np.abs(precise.channels[c] - plain.channels[c]).max() for c in MODEL_AUS) > 0.01
    # every bilabial of the line still closes the lips (AU25 lips part: near 0 inside each)
    lips = precise.channels["AU25"]
    for start, end in clip.bilabial_intervals_s:
        lo, hi = int(start * precise.fps), int(np.ceil(end * precise.fps)) + 1
        assert lips[lo:hi].min() < 0.05, (start, end, lips[lo:hi])
