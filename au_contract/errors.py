"""The contract's error root and the machine-readable error codes every part of the product shares.

Every exception the contract package raises derives from :class:`ContractError`. The codes are what the
server sends as ``{"error": code, "message": ...}`` and what the add-on and the batch renderer match on.
"""

from __future__ import annotations


class ContractError(ValueError):
    """Root of the contract's exceptions: a document, option or data file breaks the contract."""
