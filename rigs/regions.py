"""Face region codes: the integer face attribute ``auth_region`` that the rig generator writes on the
default head mesh, and that the Gaussian-splat twin reads to choose colours (skin, lips, eyes, ...).

Pure module: no bpy.
"""

from __future__ import annotations

#: Name of the INT face attribute (domain FACE) on the generated head mesh.
REGION_ATTRIBUTE = "auth_region"

SKIN = 0
LIPS = 1
EYE_WHITE = 2
IRIS = 3
BROW = 4
TEETH = 5
TONGUE = 6
MOUTH_INTERIOR = 7
EYELASH = 8
HAIR = 9
BODY = 10
SCALP = 11
GUMS = 12
WET_LINE = 13

REGION_NAMES: dict[int, str] = {
    SKIN: "skin", LIPS: "lips", EYE_WHITE: "eye_white", IRIS: "iris", BROW: "brow", TEETH: "teeth",
    TONGUE: "tongue", MOUTH_INTERIOR: "mouth_interior", EYELASH: "eyelash", HAIR: "hair", BODY: "body",
    SCALP: "scalp", GUMS: "gums", WET_LINE: "wet_line",
}
#: Every region of the head itself (not the neck-and-shoulders ``BODY``): what cameras and lights frame.
HEAD_REGIONS = tuple(code for code in REGION_NAMES if code != BODY)
