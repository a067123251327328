"""The local model server: speech audio in, per-frame FACS Action Unit tracks and ibug68 landmarks out.

Pipeline stages, one module each (decode -> features -> model -> smoothing -> upper face -> resample ->
landmarks); the HTTP transport knows nothing of the model. Nothing heavy happens at import time.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("au-talking-head")
except PackageNotFoundError:  # running from a checkout that was not pip-installed
    __version__ = "0.0.0+local"
