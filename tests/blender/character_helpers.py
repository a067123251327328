"""A small user "character" for the blender tests: a grid face carrying the 52 ARKit shape keys (or a custom
naming scheme), each with a distinct, plausible displacement, and measurements on its evaluated data.

The face is a grid in the XZ plane, looking down -Y as Blender's front view shows a face (the character's
left is +x), the mouth slit at z = 0: two coincident vertex rows, the
upper lip's inner row and the lower lip's inner row, so the rest pose has closed lips (gap 0) and the gap
between them is the mouth opening. ``jawOpen`` moves the lower face down, ``mouthClose`` brings the lower
lip back up, ``mouthSmile*`` pulls a corner up and out, ``eyeBlink*`` lowers an upper lid, and so on.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from rigs.arkit import ARKIT_52

#: Rows of the grid (z, metres) from chin to forehead; the two 0.0 rows are the lower and upper inner lip.
ROWS_Z: tuple[float, ...] = (-0.08, -0.06, -0.04, -0.025, -0.012, 0.0, 0.0, 0.012, 0.025, 0.04, 0.055,
                             0.07, 0.085)
LOWER_LIP_ROW, UPPER_LIP_ROW = 5, 6
COLS_X: tuple[float, ...] = tuple(round(-0.06 + 0.01 * i, 4) for i in range(13))
#: Columns of the lip-gap measurement (the middle of the mouth).
MOUTH_COLS: tuple[int, ...] = tuple(i for i, x in enumerate(COLS_X) if abs(x) <= 0.015)

# name -> (centre x, centre z, radius, rows ("all", "lower", "upper", "lowlip", "uplip"), (dx, dy, dz)).
# Sided ARKit names end in Left/Right: the "Left" entry is given, "Right" mirrors x and dx.
_SHAPES: dict[str, tuple[float, float, float, str, tuple[float, float, float]]] = {
    "eyeBlinkLeft": (0.03, 0.055, 0.012, "upper", (0.0, 0.0, -0.008)),
    "eyeLookDownLeft": (0.03, 0.05, 0.008, "upper", (0.0, 0.0, -0.002)),
    "eyeLookInLeft": (0.03, 0.05, 0.008, "upper", (-0.002, 0.0, 0.0)),
    "eyeLookOutLeft": (0.03, 0.05, 0.008, "upper", (0.002, 0.0, 0.0)),
    "eyeLookUpLeft": (0.03, 0.05, 0.008, "upper", (0.0, 0.0, 0.002)),
    "eyeSquintLeft": (0.03, 0.045, 0.01, "upper", (0.0, 0.0, 0.003)),
    "eyeWideLeft": (0.03, 0.06, 0.01, "upper", (0.0, 0.0, 0.004)),
    "jawForward": (0.0, -0.04, 0.05, "lower", (0.0, -0.006, 0.0)),
    "jawLeft": (0.0, -0.04, 0.05, "lower", (0.006, 0.0, 0.0)),
    "jawRight": (0.0, -0.04, 0.05, "lower", (-0.006, 0.0, 0.0)),
    "jawOpen": (0.0, -0.05, 0.06, "lower", (0.0, 0.0, -0.02)),
    "mouthClose": (0.0, -0.05, 0.06, "lowlip", (0.0, 0.0, 0.02)),  # cancels jawOpen on the lower lip
    "mouthFunnel": (0.0, 0.0, 0.02, "all", (0.0, -0.006, 0.0)),
    "mouthPucker": (0.0, 0.0, 0.018, "all", (0.0, -0.008, 0.0)),
    "mouthLeft": (0.0, 0.0, 0.025, "all", (0.006, 0.0, 0.0)),
    "mouthRight": (0.0, 0.0, 0.025, "all", (-0.006, 0.0, 0.0)),
    "mouthSmileLeft": (0.025, 0.0, 0.012, "all", (0.005, 0.0, 0.006)),
    "mouthFrownLeft": (0.025, 0.0, 0.012, "all", (0.0, 0.0, -0.006)),
    "mouthDimpleLeft": (0.028, 0.0, 0.01, "all", (0.004, 0.003, 0.0)),
    "mouthStretchLeft": (0.025, 0.0, 0.012, "all", (0.008, 0.0, -0.002)),
    "mouthRollLower": (0.0, 0.0, 0.02, "lowlip", (0.0, 0.004, 0.001)),
    "mouthRollUpper": (0.0, 0.0, 0.02, "uplip", (0.0, 0.004, -0.001)),
    "mouthShrugLower": (0.0, -0.012, 0.02, "lower", (0.0, 0.0, 0.003)),
    "mouthShrugUpper": (0.0, 0.012, 0.02, "upper", (0.0, 0.0, 0.002)),
    "mouthPressLeft": (0.012, 0.0, 0.012, "all", (0.0, 0.003, 0.0)),
    "mouthLowerDownLeft": (0.012, -0.004, 0.014, "lower", (0.0, 0.0, -0.006)),
    "mouthUpperUpLeft": (0.012, 0.004, 0.014, "upper", (0.0, 0.0, 0.005)),
    "browDownLeft": (0.03, 0.075, 0.015, "upper", (0.0, 0.0, -0.006)),
    "browInnerUp": (0.0, 0.075, 0.015, "upper", (0.0, 0.0, 0.007)),
    "browOuterUpLeft": (0.045, 0.075, 0.015, "upper", (0.0, 0.0, 0.007)),
    "cheekPuff": (0.0, 0.01, 0.05, "all", (0.0, -0.005, 0.0)),
    "cheekSquintLeft": (0.035, 0.03, 0.012, "upper", (0.0, 0.0, 0.004)),
    "noseSneerLeft": (0.008, 0.035, 0.01, "upper", (0.0, 0.0, 0.003)),
    "tongueOut": (0.0, 0.0, 0.01, "lowlip", (0.0, -0.002, 0.0)),
}


def _spec(name: str) -> tuple[float, float, float, str, tuple[float, float, float]]:
    if name in _SHAPES:
        return _SHAPES[name]
    cx, cz, r, rows, (dx, dy, dz) = _SHAPES[name.replace("Right", "Left")]
    return -cx, cz, r, rows, (-dx, dy, dz)


def grid_coords() -> tuple[np.ndarray, np.ndarray]:
    """Rest positions [V, 3] of the grid face and the row index of each vertex [V]."""
    co = np.array([(x, 0.0, z) for z in ROWS_Z for x in COLS_X], np.float64)
    rows = np.repeat(np.arange(len(ROWS_Z)), len(COLS_X))
    return co, rows


def displacement(arkit_name: str) -> np.ndarray:
    """The displacement field [V, 3] of one ARKit shape at 1.0 (distinct for each of the 52 names)."""
    co, rows = grid_coords()
    cx, cz, r, which, vec = _spec(arkit_name)
    d2 = (co[:, 0] - cx) ** 2 + (co[:, 2] - cz) ** 2
    w = np.exp(-d2 / (2 * r * r))
    mask = {"all": np.ones(len(rows), bool), "lower": rows <= LOWER_LIP_ROW, "upper": rows >= UPPER_LIP_ROW,
            "lowlip": rows == LOWER_LIP_ROW, "uplip": rows == UPPER_LIP_ROW}[which]
    return (w * mask)[:, None] * np.asarray(vec)[None, :]


def arkit_style_names() -> dict[str, str]:
    """ARKit name -> a character's own spelling: a common ``blendShape1.`` prefix and mixed case/sides.

    Every third name is PascalCase, every third spells its side ``_L``/``_R``, the rest stay camelCase.
    """
    out = {}
    for i, name in enumerate(ARKIT_52):
        styled = name
        if i % 3 == 1:
            styled = name[0].upper() + name[1:]
        elif i % 3 == 2 and name.endswith(("Left", "Right")):
            side = "_L" if name.endswith("Left") else "_R"
            styled = name.removesuffix("Left").removesuffix("Right") + side
        out[name] = "blendShape1." + styled
    return out


def build_face(bpy: ModuleType, name: str, shape_names: dict[str, str]) -> object:
    """A grid-face mesh object linked to the scene with one shape key per entry of ``shape_names``.

    Args:
        shape_names: the shape key's name on the mesh -> the ARKit shape whose displacement it carries.
    """
    co, _ = grid_coords()
    nx, nz = len(COLS_X), len(ROWS_Z)
    faces = []
    for j in range(nz - 1):
        for i in range(nx - 1):
            if j == LOWER_LIP_ROW and abs(COLS_X[i]) < 0.03 and abs(COLS_X[i + 1]) < 0.03:
                continue  # the mouth slit
            a = j * nx + i
            faces.append((a, a + 1, a + nx + 1, a + nx))
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(v) for v in co], [], faces)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    for key_name, arkit in shape_names.items():
        kb = obj.shape_key_add(name=key_name, from_mix=False)
        kb.data.foreach_set("co", (co + displacement(arkit)).astype(np.float32).ravel())
        kb.value = 0.0  # Blender 5.0 adds a new key at 1.0; a character's keys rest at 0
    mesh.update()
    return obj


def lip_gaps(bpy: ModuleType, obj: object, frames: range) -> np.ndarray:
    """Vertical inner-lip opening (metres) of the evaluated mesh per frame, mean over mid-mouth: [F]."""
    nx = len(COLS_X)
    up = [UPPER_LIP_ROW * nx + c for c in MOUTH_COLS]
    low = [LOWER_LIP_ROW * nx + c for c in MOUTH_COLS]
    scene = bpy.context.scene
    out = np.zeros(len(frames))
    for i, f in enumerate(frames):
        scene.frame_set(f)
        mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data  # type: ignore[attr-defined]
        co = np.zeros(3 * len(mesh.vertices), np.float32)
        mesh.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3)
        out[i] = float(np.mean(co[up, 2] - co[low, 2]))
    return out


def shape_values(bpy: ModuleType, obj: object, names: list[str], frames: range) -> dict[str, np.ndarray]:
    """Evaluated shape-key values of ``names`` per frame: name -> [F]."""
    scene = bpy.context.scene
    out = {n: np.zeros(len(frames)) for n in names}
    key = obj.data.shape_keys  # type: ignore[attr-defined]
    for i, f in enumerate(frames):
        scene.frame_set(f)
        blocks = key.evaluated_get(bpy.context.evaluated_depsgraph_get()).key_blocks
        for n in names:
            out[n][i] = blocks[n].value
    return out


def window(start_s: float, end_s: float, fps: float, frame_start: int) -> range:
    """Scene frames of a phone widened by one frame on each side (the "within one frame" tolerance)."""
    lo = max(math.floor(start_s * fps) - 1, 0)
    hi = math.ceil(end_s * fps) + 1
    return range(frame_start + lo, frame_start + hi + 1)


def bilabial_windows(phones: list[dict], fps: float, n_frames: int) -> list[range]:
    """Per P/B/M phone of ``phones`` (``{"phone", "start_s", "end_s"}``), the 0-based frame indices from
    20 ms before its start to 20 ms after its end: issue 11's closure-recall window. The demo clip's
    timings are Piper's alignments, about 38 ms after the acoustic onsets, so a segment's middle frame can
    already be the release; the window holds the closure wherever the aligner put it."""
    out = []
    for p in phones:
        if p["phone"] in ("p", "b", "m"):
            lo = max(0, math.floor((p["start_s"] - 0.02) * fps))
            hi = min(n_frames, math.ceil((p["end_s"] + 0.02) * fps) + 1)
            out.append(range(lo, max(hi, lo + 1)))
    return out
