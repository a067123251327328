"""The model server's exceptions: one root, :class:`ModelServerError`, so callers can catch every server
problem (bad audio, missing model, token, emotion, API answers) with one ``except``.

The concrete exceptions live beside the stage that raises them (``decode.AudioError``,
``acoustic.ModelNotFoundError``, ``auth.TokenError``, ``emotion.EmotionError``, ``service.ApiError``);
each keeps its builtin base (``ValueError``, ``RuntimeError``) where callers catch that.
"""

from __future__ import annotations


class ModelServerError(Exception):
    """Root of every error the model server's runtime raises."""
