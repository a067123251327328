"""The default head's splat twin with its committed fit (rigs/data/default_head_splat.npz) in real bpy:
the fitted values reach the rendered twin, and on a blink the closed lids hide the iris."""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

from tests.blender.splat_helpers import add_camera, ext


def _render(bpy: ModuleType) -> np.ndarray:
    out, _, _ = ext("splat.bl_engine").render_frame(bpy.context.evaluated_depsgraph_get(), "numpy")
    return np.clip(out.rgb, 0, 1)


def _set_au(bpy: ModuleType, code: str, value: float) -> None:
    rig = bpy.context.scene.au_talking_head.rig
    rig[code] = value
    rig.update_tag()
    bpy.context.view_layer.update()


def test_fitted_twin_renders_its_fit_and_lids_hide_the_iris(fresh: ModuleType) -> None:
    bpy = fresh
    data = ext("splat.bl_data")
    regions = importlib.import_module("rigs.regions")
    splat_twin = importlib.import_module("rigs.splat_twin")
    naming = importlib.import_module("rigs.naming")
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    splat = next(o for o in bpy.context.scene.objects if data.is_splat(o))
    face = data.bound_target(splat)
    count = len(splat.data.vertices)
    fitted = splat_twin.load_fitted(str(face[naming.RIG_HASH_PROP]), count, 0)
    assert fitted is not None, "the committed fit must match the default head (re-run bl_fit_splats)"
    gaussians = data.read_gaussians(splat.data)
    assert np.abs(gaussians.opacities - fitted.opacities).max() < 1e-6
    assert gaussians.sh.shape[1] == (1 if fitted.sh_rest is None else 1 + fitted.sh_rest.shape[1])
    _, _, _, codes = data.twin_base(face)
    iris = np.flatnonzero(codes == regions.IRIS)
    centre = np.array(face.matrix_world) @ np.append(gaussians.means[iris].mean(0), 1.0)
    add_camera(bpy, location=(centre[0], centre[1] - 0.5, centre[2]), size=(128, 128)).data.lens = 110

    def iris_change() -> float:
        """Largest pixel change when the iris Gaussians turn green."""
        before = _render(bpy)
        dc = gaussians.sh[:, 0].copy()
        dc[iris] = (np.array([0.0, 1.0, 0.0]) - 0.5) / 0.28209479177387814
        attr = splat.data.attributes["f_dc"]
        attr.data.foreach_set("vector", dc.ravel())
        splat.data.update()
        after = _render(bpy)
        attr.data.foreach_set("vector", gaussians.sh[:, 0].ravel())
        splat.data.update()
        return float(np.abs(after - before).max())

    assert iris_change() > 0.3  # eyes open: the iris shows
    _set_au(bpy, "AU45", 1.0)
    assert iris_change() < 0.02  # blink: nothing of it shows through the lids
