"""Training views of the splat twin fit: reference images and the twin's pose in each (pure: numpy).

A :class:`FitSet` is what ``bl_fit_splats`` collects in Blender and ``splat_refine`` fits to: the twin's
binding (as sampled, before any fit), the evaluated face vertices of each expression, the face's world
matrix, and per view a camera, an expression and a Cycles image. It is saved as one ``.npz`` so the
fit can be rerun without Blender. :func:`make_view` turns one view into the arrays the fit needs: the
world means, the world axes of each Gaussian and of its triangle frame, posed log scales, and the
rotation from world directions to each Gaussian's colour (SH) frame, exactly as
``blender_addon.splat.render.flatten`` poses a bound twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blender_addon.splat import binding as bnd
from blender_addon.splat.camera import Camera

_CAMERA_FIELDS = ("width", "height", "fx", "fy", "cx", "cy", "ortho", "near", "far")
_BINDING_FIELDS = ("tri_verts", "local_means", "local_quats", "local_log_scales", "sh_quats")


@dataclass
class FitSet:
    """Everything a fit needs, Blender-free.

    Attributes:
        binding: the twin's binding on the face mesh, as sampled.
        verts: ``[E, V, 3]`` float32 evaluated face vertices (object space) per expression.
        matrix_world: ``[4, 4]`` the face's object-to-world matrix.
        cameras: one camera per view.
        expressions: ``[K]`` int64 expression index of each view.
        targets: ``[K, H, W, 3]`` float16 display-referred reference images.
        background: ``[3]`` display-referred background of the references.
        rgb: ``[N, 3]`` float32 starting colours.
        opacities: ``[N]`` float32 sampled opacities.
        codes: ``[N]`` int32 region code of each Gaussian (``rigs.regions``).
    """

    binding: bnd.Binding
    verts: np.ndarray
    matrix_world: np.ndarray
    cameras: list[Camera]
    expressions: np.ndarray
    targets: np.ndarray
    background: np.ndarray
    rgb: np.ndarray
    opacities: np.ndarray
    codes: np.ndarray


@dataclass
class FitView:
    """One view, posed (world space, float32).

    Attributes:
        camera: the camera.
        target: ``[H, W, 3]`` reference image.
        background: ``[3]``.
        means: ``[N, 3]`` world means with no fitted offset.
        offset_axes: ``[N, 3, 3]`` world change of a mean per unit of local offset (triangle frame × scale).
        axes: ``[N, 3, 3]`` world directions of each Gaussian's axes (columns; object linear map included).
        log_scales: ``[N, 3]`` posed log standard deviations with no fitted change.
        sh_rot: ``[N, 3, 3]`` world directions to each Gaussian's colour (SH) frame.
    """

    camera: Camera
    target: np.ndarray
    background: np.ndarray
    means: np.ndarray
    offset_axes: np.ndarray
    axes: np.ndarray
    log_scales: np.ndarray
    sh_rot: np.ndarray

    def sh_directions(self, means: np.ndarray) -> np.ndarray:
        """View directions ``[N, 3]`` (not normalised) in the colour frames of Gaussians at ``means``."""
        return np.einsum("nij,nj->ni", self.sh_rot, self.camera.view_directions(means))


def make_view(binding: bnd.Binding, verts: np.ndarray, matrix_world: np.ndarray, camera: Camera,
              target: np.ndarray, background: np.ndarray) -> FitView:
    """Pose ``binding`` on face vertices ``verts`` ``[V, 3]`` placed by ``matrix_world`` ``[4, 4]``."""
    posed = bnd.pose(binding, verts)
    _, rot, s = bnd.triangle_frames(verts, binding.tri_verts)
    m = np.asarray(matrix_world, np.float64)
    lin = m[:3, :3]
    means = posed.means @ lin.T + m[:3, 3]
    to_object = np.broadcast_to(np.linalg.inv(lin), (len(means), 3, 3))
    sh_rot = to_object if posed.sh_frames is None else np.swapaxes(posed.sh_frames, 1, 2) @ to_object
    f32 = np.float32
    return FitView(camera, np.asarray(target, f32), np.asarray(background, f32), means.astype(f32),
                   (lin @ (rot * s[:, None, None])).astype(f32), (lin @ posed.rotations).astype(f32),
                   posed.log_scales.astype(f32), sh_rot.astype(f32))


def views_of(fit_set: FitSet, index: list[int] | None = None) -> list[FitView]:
    """The posed views of ``fit_set`` (all, or those at ``index``)."""
    picks = range(len(fit_set.cameras)) if index is None else index
    return [make_view(fit_set.binding, fit_set.verts[fit_set.expressions[i]], fit_set.matrix_world,
                      fit_set.cameras[i], fit_set.targets[i].astype(np.float32), fit_set.background)
            for i in picks]


def save(path: Path, fit_set: FitSet) -> None:
    """Write ``fit_set`` to an ``.npz``."""
    b = fit_set.binding
    out: dict[str, np.ndarray] = {f"binding_{k}": np.asarray(getattr(b, k)) for k in _BINDING_FIELDS}
    for k in _CAMERA_FIELDS:
        out[f"camera_{k}"] = np.array([getattr(c, k) for c in fit_set.cameras])
    out["camera_world_to_camera"] = np.stack([c.world_to_camera for c in fit_set.cameras])
    for k in ("verts", "matrix_world", "expressions", "targets", "background", "rgb", "opacities", "codes"):
        out[k] = np.asarray(getattr(fit_set, k))
    np.savez(path, **out)


def load(path: Path) -> FitSet:
    """Read a :class:`FitSet` written by :func:`save`."""
    with np.load(path) as d:
        binding = bnd.Binding(*(d[f"binding_{k}"] for k in _BINDING_FIELDS))
        cams = [Camera(int(d["camera_width"][i]), int(d["camera_height"][i]), float(d["camera_fx"][i]),
                       float(d["camera_fy"][i]), float(d["camera_cx"][i]), float(d["camera_cy"][i]),
                       d["camera_world_to_camera"][i], bool(d["camera_ortho"][i]), float(d["camera_near"][i]),
                       float(d["camera_far"][i])) for i in range(len(d["camera_width"]))]
        return FitSet(binding, d["verts"], d["matrix_world"], cams, d["expressions"], d["targets"],
                      d["background"], d["rgb"], d["opacities"], d["codes"])
