"""Bone-based faces: one pose per AU, played through drivers (pure, no bpy).

A pose preset (JSON ``{"schema": "au-pose/1", "poses": {"AU26": {"jaw_master": {"rot": [0.15, 0, 0]}}}}``)
gives, per AU (or ``"AU12_L"`` for one side of a sided AU), per bone, a location offset ``loc`` in the
armature's space (metres at ``head_scale`` 1) and a small rotation ``rot`` (the x, y, z of a quaternion whose
w stays 1; Blender normalises it). The Blender side turns each AU's zone-rule value into a property on the
armature data, then drives every bone channel as ``sum_k delta_k x value_k``: simple expressions only, so
the face plays without Python auto-run.

``RIGIFY_FACE`` is the preset of the face Blender's bundled Rigify generates from the Human meta-rig
(bones ``jaw_master``, ``lip.T``, ``lip.B``, ``lips.L`` ...). The lips close on p/b/m in two ways: the jaw's
opening AUs are gated by the closure AUs (``character_rules.closure_gate``), and AU23/AU24/AU28 press the
lip controls together (the meta-rig's lips rest 17 mm apart).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from au_contract import AU_BY_CODE

from .errors import MappingError

POSE_SCHEMA = "au-pose/1"
#: Bones that identify a Rigify face (the "Human" meta-rig's generated face rig).
RIGIFY_FACE_BONES: tuple[str, ...] = ("jaw_master", "lip.T", "lip.B", "lips.L", "lips.R")
#: Eye distance (metres, ``master_eye.L`` to ``master_eye.R``) of the Human meta-rig's generated face:
#: presets are scaled by a rig's eye distance over this.
RIGIFY_EYE_DISTANCE = 0.1032

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class BoneDelta:
    """What one AU at 1.0 does to one bone: ``loc`` (armature space, metres) and ``rot`` (quaternion xyz)."""

    loc: Vec = (0.0, 0.0, 0.0)
    rot: Vec = (0.0, 0.0, 0.0)


Poses = dict[str, dict[str, BoneDelta]]


def _mirror(poses: dict[str, dict[str, BoneDelta]]) -> Poses:
    """Add the ``.R`` twin of every ``.L`` bone of a sided AU (x mirrored) and split sided AUs into _L/_R."""
    out: Poses = {}
    for code, bones in poses.items():
        if not AU_BY_CODE[code].sided:
            out[code] = dict(bones)
            continue
        left = {b: d for b, d in bones.items() if ".L" in b}
        both = {b: d for b, d in bones.items() if ".L" not in b}
        out[f"{code}_L"] = {**left, **both}
        out[f"{code}_R"] = {b.replace(".L", ".R"): BoneDelta((-d.loc[0], d.loc[1], d.loc[2]),
                                                              (d.rot[0], -d.rot[1], -d.rot[2]))
                            for b, d in left.items()}
    return out


def _d(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> BoneDelta:
    return BoneDelta((x, y, z))


#: The Rigify face preset; sided AUs list the character's left bones (``.L``), mirrored to the right.
RIGIFY_FACE: Poses = _mirror({
    "AU01": {"brow.T.L.003": _d(z=0.006), "brow.T.R.003": _d(z=0.006)},
    "AU02": {"brow.T.L.001": _d(z=0.007), "brow.T.L.002": _d(z=0.003)},
    "AU04": {"brow.T.L.002": _d(x=-0.002, z=-0.005), "brow.T.L.003": _d(x=-0.003, z=-0.005)},
    "AU05": {"lid.T.L": _d(z=0.002)},
    "AU06": {"cheek.T.L.001": _d(z=0.004), "lid.B.L": _d(z=0.0015)},
    "AU07": {"lid.B.L": _d(z=0.002), "lid.T.L": _d(z=-0.001)},
    "AU09": {"nose.L.001": _d(z=0.003)},
    "AU10": {"lip.T.L.001": _d(z=0.004)},
    "AU12": {"lips.L": _d(x=0.006, y=0.002, z=0.006)},
    "AU14": {"lips.L": _d(x=0.003, y=0.003)},
    "AU15": {"lips.L": _d(z=-0.006)},
    "AU16": {"lip.B.L.001": _d(z=-0.004)},
    "AU17": {"lip.B": _d(z=0.003), "chin": _d(z=0.004)},
    "AU18": {"lips.L": _d(x=-0.007, y=-0.005), "lips.R": _d(x=0.007, y=-0.005), "lip.T": _d(y=-0.006),
             "lip.B": _d(y=-0.006)},
    "AU20": {"lips.L": _d(x=0.008, z=-0.002)},
    "AU22": {"lip.T": _d(y=-0.005, z=0.003), "lip.B": _d(y=-0.005, z=-0.003), "lips.L": _d(x=-0.004),
             "lips.R": _d(x=0.004)},
    "AU23": {"lip.T": _d(z=-0.003), "lip.B": _d(z=0.003)},
    "AU24": {"lip.T": _d(z=-0.009), "lip.B": _d(z=0.009), "lip.T.L.001": _d(z=-0.006),
             "lip.T.R.001": _d(z=-0.006), "lip.B.L.001": _d(z=0.006), "lip.B.R.001": _d(z=0.006)},
    "AU25": {"lip.T": _d(z=0.002), "lip.B": _d(z=-0.003)},
    "AU26": {"jaw_master": BoneDelta(rot=(0.15, 0.0, 0.0))},
    "AU27": {"jaw_master": BoneDelta(rot=(0.1, 0.0, 0.0))},
    "AU28": {"lip.T": _d(y=0.003, z=-0.004), "lip.B": _d(y=0.003, z=0.004)},
    "AU43": {"lid.T.L": _d(z=-0.009), "lid.B.L": _d(z=0.002)},
    "AU45": {"lid.T.L": _d(z=-0.009), "lid.B.L": _d(z=0.002)},
})


def channel_terms(poses: Poses, scale: float = 1.0) -> dict[tuple[str, str, int], dict[str, float]]:
    """(bone, ``"loc"``/``"rot"``, axis) -> {pose key (``"AU26"``, ``"AU12_L"``): coefficient}.

    ``loc`` coefficients are scaled by ``scale`` (a rig's size relative to the preset's); rotations are not.
    """
    out: dict[tuple[str, str, int], dict[str, float]] = {}
    for key, bones in poses.items():
        for bone, delta in bones.items():
            for kind, vec, k in (("loc", delta.loc, scale), ("rot", delta.rot, 1.0)):
                for axis, value in enumerate(vec):
                    if value:
                        out.setdefault((bone, kind, axis), {})[key] = value * k
    return out


def poses_to_json(poses: Poses) -> dict[str, object]:
    """The preset as JSON data (schema ``au-pose/1``)."""
    return {"schema": POSE_SCHEMA, "poses": {k: {b: {"loc": list(d.loc), "rot": list(d.rot)}
                                                 for b, d in bones.items()} for k, bones in poses.items()}}


def poses_from_json(data: object) -> Poses:
    """Validate and read a pose preset.

    Raises:
        MappingError: on a wrong schema, an unknown AU or a malformed delta; the message says which.
    """
    poses = data.get("poses") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("schema") != POSE_SCHEMA or not isinstance(poses, dict):
        raise MappingError(f"a pose preset is {{\"schema\": \"{POSE_SCHEMA}\", \"poses\": {{\"AU26\": "
                           "{\"bone\": {\"loc\": [x, y, z], \"rot\": [x, y, z]}}}}")
    out: Poses = {}
    for key, bones in data["poses"].items():
        code, _, side = str(key).partition("_")
        if code not in AU_BY_CODE or side not in ("", "L", "R") or not isinstance(bones, dict):
            raise MappingError(f"pose preset: unknown AU key {key!r} (use AU26, or AU12_L / AU12_R)")
        out[key] = {}
        for bone, delta in bones.items():
            try:
                loc = tuple(float(v) for v in delta.get("loc", (0, 0, 0)))
                rot = tuple(float(v) for v in delta.get("rot", (0, 0, 0)))
            except (AttributeError, TypeError, ValueError) as exc:
                raise MappingError(f"pose preset {key}/{bone}: loc and rot are three numbers each") from exc
            if len(loc) != 3 or len(rot) != 3:
                raise MappingError(f"pose preset {key}/{bone}: loc and rot are three numbers each")
            out[key][bone] = BoneDelta((loc[0], loc[1], loc[2]), (rot[0], rot[1], rot[2]))
    return out


def pose_key(code: str, side: str = "") -> str:
    """The preset key of an AU pose: ``"AU26"``, or ``"AU12_L"`` / ``"AU12_R"`` for one side of a sided AU.

    Raises:
        MappingError: for an unknown AU, a side other than "", "L", "R", or a side on an unsided AU.
    """
    if code not in AU_BY_CODE:
        raise MappingError(f"unknown AU {code!r}")
    if side not in ("", "L", "R"):
        raise MappingError(f"side is L, R or empty (both), not {side!r}")
    if side and not AU_BY_CODE[code].sided:
        raise MappingError(f"{code} ({AU_BY_CODE[code].name}) has no sides: record it for both")
    return f"{code}_{side}" if side else code


def delta_from_pose(loc: Vec, quat: tuple[float, float, float, float], scale: float = 1.0,
                    tol: float = 1e-6) -> BoneDelta | None:
    """The delta of a posed bone, or None when it sits at rest.

    Args:
        loc: the bone's offset from rest in the armature's space (metres).
        quat: its rotation from rest as a quaternion (w, x, y, z), normalised.
        scale: the rig's size relative to the preset's (``loc`` is divided by it).
        tol: offsets and quaternion components below this count as rest.

    The driver sets the quaternion's xyz with w at 1 and Blender normalises, so the recorded ``rot`` is
    ``xyz / w`` (w made positive): the rig plays back exactly the recorded rotation at the AU's value 1.
    """
    w, x, y, z = quat
    if w < 0:
        w, x, y, z = -w, -x, -y, -z
    w = max(w, 1e-3)  # a half-turn cannot be played by xyz with w = 1; clamp rather than divide by 0
    rot = tuple(0.0 if abs(c) < tol else c / w for c in (x, y, z))
    off = tuple(0.0 if abs(c) < tol else c / scale for c in loc)
    if not any(rot) and not any(off):
        return None
    return BoneDelta((off[0], off[1], off[2]), (rot[0], rot[1], rot[2]))


def with_pose(poses: Poses, key: str, bones: dict[str, BoneDelta]) -> Poses:
    """A copy of ``poses`` with the pose of ``key`` replaced by ``bones`` (removed when they are empty)."""
    out = {k: dict(v) for k, v in poses.items() if k != key}
    if bones:
        out[key] = dict(bones)
    return out


def merged(base: Poses, over: Poses) -> Poses:
    """``base`` with every pose of ``over`` replacing the pose of the same key (a recorded pose wins)."""
    return {**{k: dict(v) for k, v in base.items()}, **{k: dict(v) for k, v in over.items()}}


def poses_to_text(poses: Poses) -> str:
    """The preset as JSON text (what is kept on the armature and written to a preset file)."""
    return json.dumps(poses_to_json(poses), indent=1, sort_keys=True)


def save_poses(path: Path, poses: Poses) -> None:
    """Write a pose preset file. Raises MappingError when the file cannot be written."""
    try:
        Path(path).write_text(poses_to_text(poses) + "\n", encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"cannot write the pose preset {path}: {exc}") from exc


def load_poses(path: Path) -> Poses:
    """Read a pose preset file. Raises MappingError (also for unreadable JSON)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MappingError(f"cannot read the pose preset {path}: {exc}") from exc
    return poses_from_json(data)
