"""Dialog mode's espeak-ng readings do not depend on what the process spoke before."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from au_contract import MODEL_AUS
from model_server.espeak import shared_library
from model_server.espeak_fresh import speak_fresh
from model_server.pipeline import PredictOptions, predict_tracks
from model_server.transcript_align import clear_readings
from tests.fixtures import espeak_clip

TEXT = "En attente pour parler à un préposé"


def test_a_fresh_reading_is_the_same_whatever_was_spoken_before() -> None:
    first = speak_fresh(TEXT, "fr")
    shared_library().speak("hola, ¿qué tal? Marque siete para recuperar el mensaje.", "es-419", 175)
    speak_fresh("Bonjour tout le monde, appuyez sur le un.", "fr")
    shared_library().speak(TEXT, "fr", 175)  # the shared instance's state moves on
    again = speak_fresh(TEXT, "fr")
    assert again.phones == first.phones
    np.testing.assert_array_equal(again.audio, first.audio)
    assert len(first.phones) > 20 and first.audio.size > 16000


def test_a_line_aligned_after_other_lines_gives_the_same_tracks(tmp_path: Path) -> None:
    clip = espeak_clip(tmp_path, "bob met my mum by the map")
    other = espeak_clip(tmp_path, "people probably prefer purple paper", "other")
    options = PredictOptions(blinks=False, prosody=False, transcript="bob met my mum by the map")
    clear_readings()
    first = predict_tracks(clip.path.read_bytes(), options)
    assert first.meta["dialog"]["used"], first.meta["dialog"]
    predict_tracks(other.path.read_bytes(), PredictOptions(transcript="people probably prefer purple paper"))
    shared_library().speak("something else entirely, said in between", "en-us", 175)
    clear_readings()  # a new server process, or the reading pushed out of the kept ones
    again = predict_tracks(clip.path.read_bytes(), options)
    for code in MODEL_AUS:
        np.testing.assert_array_equal(again.channels[code], first.channels[code])
