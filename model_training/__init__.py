"""Training of the acoustic model (needs the ``train`` extra: torch, onnx, piper-tts, pocketsphinx).

Stages, one module each: engines (espeak_gen, festival_gen, flite_gen, piper_gen) -> generate (clips,
speaker split) -> augment -> coarticulation targets (phonetics, coarticulation) -> dataset -> model ->
train -> export; metrics and align serve ``python -m model_training.evaluate``. Nothing here is imported
by the server at run time.
"""
