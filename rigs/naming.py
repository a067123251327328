"""Names the rig generator gives to what it creates (pure, no bpy), in the manner of Rigify's naming module.

Every object, shape key, vertex group and driver variable name is built here, so the Blender layer and the
tests agree on them without repeating string literals.
"""

from __future__ import annotations

from au_contract import AU_BY_CODE

#: Name of the control object (an Empty) of the default rig.
CONTROL_OBJECT = "AUTH_Control"
#: Name of the face mesh object (and its mesh data) of the default rig.
FACE_OBJECT = "AUTH_Face"
#: Name of the collection that holds the generated rig.
RIG_COLLECTION = "AU Talking Head Rig"
#: Custom property on the control object that points at the face mesh object.
FACE_MESH_PROP = "face_mesh"
#: Custom property on the face mesh with the 68 landmark vertex indices (iBUG-68 order).
LANDMARK_PROP = "landmark_vertices"
#: Custom property on a driven mesh naming the control object that drives it.
CONTROL_REF_PROP = "au_talking_head_control_name"
#: Custom property on the face mesh with the generator's deterministic content hash.
RIG_HASH_PROP = "au_talking_head_rig_hash"

#: Zone vertex groups on the face mesh, by zone letter of ``au_contract``.
ZONE_GROUPS: dict[str, str] = {"M": "zone_mouth", "U": "zone_upper", "B": "zone_blend"}

SIDES: tuple[str, ...] = ("L", "R")


def shape_key_names(code: str) -> tuple[str, ...]:
    """Shape keys of one AU: ``("AU12_L", "AU12_R")`` for a sided AU, ``("AU26",)`` otherwise.

    Raises:
        KeyError: if ``code`` is not an AU of the contract.
    """
    if AU_BY_CODE[code].sided:
        return tuple(f"{code}_{side}" for side in SIDES)
    return (code,)


def split_shape_key_name(name: str) -> tuple[str, str | None]:
    """Inverse of ``shape_key_names``: ``"AU12_L" -> ("AU12", "L")``, ``"AU26" -> ("AU26", None)``."""
    code, _, side = name.partition("_")
    return code, (side or None)


def all_shape_key_names() -> tuple[str, ...]:
    """Every AU shape key of the default face, in contract order."""
    return tuple(name for code in AU_BY_CODE for name in shape_key_names(code))
