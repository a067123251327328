"""The development set's check that a recording says its borrowed text (pocketsphinx, no model under test)."""

from __future__ import annotations

import math

import pytest

from model_training.sphinx_align import SphinxAligner
from model_training.text_check import (
    LENGTH_TOLERANCE,
    MAX_RATIO,
    MAX_TRIES,
    MIN_DECOYS,
    TextFit,
    check,
    decoy_texts,
)

SPANISH = [
    "Por favor, marque el número de la extensión.",
    "La persona que llama no está disponible ahora.",
    "Su mensaje ha sido guardado en el buzón.",
    "Para repetir este menú, pulse la tecla cero.",
    "Lo siento, la contraseña no es correcta.",
    "Usted tiene nuevos mensajes en su buzón de voz.",
    "La conferencia está bloqueada por el momento.",
    "Gracias por llamar, hasta luego y buen día.",
]


def test_decoys_are_other_texts_of_similar_length_in_a_seeded_order() -> None:
    text = SPANISH[0]
    others = [*SPANISH, "Sí.", "Una frase mucho más larga que todas las demás, con muchas palabras de más."]
    decoys = decoy_texts(text, others, "vm-enter")
    assert text not in decoys and "Sí." not in decoys and len(decoys) == len(SPANISH) - 1
    assert all(abs(len(d) - len(text)) <= LENGTH_TOLERANCE * len(text) for d in decoys)
    assert decoys == decoy_texts(text, list(reversed(others)), "vm-enter")  # the key decides the order
    assert sorted(decoys) == sorted(decoy_texts(text, others, "other-file"))
    many = [f"texto número {k:03d} de la lista" for k in range(60)]
    assert len(decoy_texts(many[0], many, "x")) == MAX_TRIES


def test_the_ratio_and_the_verdict() -> None:
    assert TextFit(0.1, (0.4, 0.5, 0.6)).ratio == pytest.approx(0.2)
    assert TextFit(0.1, (0.4, 0.5, 0.6)).passed
    assert not TextFit(0.5, (0.4, 0.5, 0.6)).passed  # as bad as another text: not said
    assert not TextFit(0.1, (0.4, 0.5)).passed  # too few decoys fitted: unverified
    assert not TextFit(None, (0.4, 0.5, 0.6)).passed and math.isinf(TextFit(None, (0.5,)).ratio)
    assert TextFit(-0.01, (0.4, 0.5, 0.6)).passed  # fits better than the free phone loop
    assert not TextFit(0.01, (0.0, 0.0, 0.0)).passed  # decoys as good as the free loop: no evidence
    assert MIN_DECOYS >= 3 and 0.5 < MAX_RATIO < 1.0


def test_a_recording_passes_with_its_own_text_and_fails_with_another() -> None:
    """An espeak-ng voice the aligner never reads with (f3, slower) says one sentence: its own text passes
    with a clear margin; checked against a text it does not say (the true one among the decoys), it fails."""
    aligner = SphinxAligner()
    try:
        rec = aligner._reader.reference(SPANISH[1], "es", "f3", 130)
        assert rec is not None
        audio = rec[0]
        own = check(aligner, audio, SPANISH[1], "es", SPANISH, "own")
        wrong = check(aligner, audio, SPANISH[5], "es", SPANISH, "wrong")
        free = aligner.free_score(audio)
    finally:
        aligner.close()
    assert free is not None and free < 0.0
    assert own.passed and own.ratio < 0.6, own
    assert len(own.decoys) >= MIN_DECOYS and own.own is not None and own.own < min(own.decoys)
    assert not wrong.passed and wrong.ratio > MAX_RATIO, wrong
