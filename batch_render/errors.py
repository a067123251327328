"""The batch renderer's exceptions: one root, :class:`BatchError`.

``JobServerError`` is the batch renderer's own model-server trouble (it could not start or reach one); it
is named apart from the extension's ``ServerError`` (an answer of the server to the client).
"""

from __future__ import annotations


class BatchError(RuntimeError):
    """Root of the batch renderer's errors; raised itself for inputs it cannot use (the message says why)."""


class JobServerError(BatchError):
    """The model server for a batch job could not be reached or started; the message says what to do."""
