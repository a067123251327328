"""The training package's exceptions: one root, :class:`TrainingError`, for corpus building, training
and evaluation problems."""

from __future__ import annotations


class TrainingError(Exception):
    """Root of every error the training, corpus and evaluation code raises."""
