"""Splat objects with real bpy: bound Gaussians follow their triangles under shape keys (renderer and
viewport points), import_splat (PLY SH 0..3, .splat, axis), bind_splat, the default head's twin."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.blender.splat_helpers import add_camera, ext, uv_sphere_with_key


def _expected_means(bpy: ModuleType, splat, face) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Bound means from the evaluated mesh, computed with mathutils, one Gaussian at a time."""
    from mathutils import Matrix, Vector

    dg = bpy.context.evaluated_depsgraph_get()
    verts = face.evaluated_get(dg).data.vertices
    attrs = splat.data.attributes
    out = []
    for i in range(len(splat.data.vertices)):
        p0, p1, p2 = (verts[attrs[f"auth_bind_v{k}"].data[i].value].co.copy() for k in range(3))
        e = p1 - p0
        n = e.cross(p2 - p0)
        s = 0.5 * (e.length + n.length / e.length)
        frame = Matrix((e.normalized(), n.normalized().cross(e.normalized()), n.normalized())).transposed()
        local = Vector(attrs["auth_bind_mean"].data[i].vector)
        out.append(face.matrix_world @ ((p0 + p1 + p2) / 3 + s * (frame @ local)))
    return np.array(out)


def _viewport_points(bpy: ModuleType, splat) -> np.ndarray:  # type: ignore[no-untyped-def]
    dg = bpy.context.evaluated_depsgraph_get()
    evaluated = splat.evaluated_get(dg)
    geometry = evaluated.evaluated_geometry()  # keep a reference: the point cloud lives in it
    cloud = geometry.pointcloud
    pos = np.empty(len(cloud.points) * 3, np.float32)
    cloud.attributes["position"].data.foreach_get("vector", pos)
    return pos.reshape(-1, 3) @ np.array(splat.matrix_world)[:3, :3].T + np.array(splat.matrix_world)[:3, 3]


def _rendered_means(bpy: ModuleType) -> np.ndarray:
    inst = ext("splat.bl_data").collect_instances(bpy.context.evaluated_depsgraph_get())
    assert len(inst) == 1
    m = inst[0].matrix_world
    local = inst[0].gaussians.means if inst[0].posed is None else inst[0].posed.means
    return local @ m[:3, :3].T + m[:3, 3]


def test_bound_gaussians_follow_their_triangles_under_shape_keys(fresh: ModuleType) -> None:
    bpy = fresh
    face, key = uv_sphere_with_key(bpy)
    face.location = (0.5, 0.0, 0.2)
    splat = ext("splat.bl_data").add_splat_twin(bpy.context, face, count=400)
    rest = None
    for value in (0.0, 0.5, 1.0):
        key.value = value
        bpy.context.view_layer.update()
        want = _expected_means(bpy, splat, face)
        got = _rendered_means(bpy)
        assert np.abs(got - want).max() < 1e-5, value
        assert np.abs(_viewport_points(bpy, splat) - want).max() < 1e-5, value
        if rest is None:
            rest = got
    assert np.abs(got - rest).max() > 0.2, "the shape key must move the Gaussians"
    assert bpy.context.scene.render.engine == "AU_TALKING_HEAD_SPLAT"


def test_rigid_shape_key_moves_gaussians_rigidly(fresh: ModuleType) -> None:
    bpy = fresh
    face, _ = uv_sphere_with_key(bpy)
    rigid = face.shape_key_add(name="Rigid", from_mix=False)
    co = np.empty(len(face.data.vertices) * 3, np.float32)
    rigid.data.foreach_get("co", co)
    c, s = np.cos(0.5), np.sin(0.5)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    rigid.data.foreach_set("co", (co.reshape(-1, 3) @ rot.T + [0.3, -0.2, 0.1]).astype(np.float32).ravel())
    rigid.value = 0.0  # a new shape key starts at 1.0
    twin = ext("splat.bl_data").add_splat_twin(bpy.context, face, count=300)
    # A twin stored without colour frames (older files) gets them back from its stored rotations.
    stored = ext("splat.bl_data").read_binding(twin.data).sh_quats
    twin.data.attributes.remove(twin.data.attributes["auth_bind_sh_rot"])
    derived = ext("splat.bl_data").read_binding(twin.data).sh_quats
    assert np.allclose(np.abs(np.sum(stored * derived, 1)), 1.0, atol=1e-5)
    bpy.context.view_layer.update()
    rest = _rendered_means(bpy)
    rigid.value = 1.0
    bpy.context.view_layer.update()
    assert np.abs(_rendered_means(bpy) - (rest @ rot.T + [0.3, -0.2, 0.1])).max() < 1e-5


def test_import_ply_sh3_and_splat_with_axis(fresh: ModuleType, tmp_path: Path) -> None:
    bpy = fresh
    model, ply = ext("splat.model"), ext("splat.ply")
    data = ext("splat.bl_data")
    rng = np.random.default_rng(0)
    g = model.GaussianSet(rng.normal(size=(40, 3)), model.normalise_quats(rng.normal(size=(40, 4))),
                          rng.normal(-3, 0.3, (40, 3)), rng.uniform(0.1, 0.9, 40),
                          rng.normal(0, 0.3, (40, 16, 3)))
    ply.write_ply(tmp_path / "g.ply", g)
    assert bpy.ops.au_talking_head.import_splat(filepath=str(tmp_path / "g.ply"), axis_up="Z") == {"FINISHED"}
    obj = bpy.context.active_object
    assert data.is_splat(obj) and len(obj.data.vertices) == 40 and "f_rest_14" in obj.data.attributes
    back = data.read_gaussians(obj.data)
    assert np.allclose(back.sh, g.sh) and np.allclose(back.means, g.means)
    assert np.allclose(back.opacities, g.opacities, atol=1e-6) and tuple(obj.rotation_euler) == (0, 0, 0)
    ply.write_splat(tmp_path / "g.splat", g)
    result = bpy.ops.au_talking_head.import_splat(filepath=str(tmp_path / "g.splat"), axis_up="-Y")
    assert result == {"FINISHED"}
    obj2 = bpy.context.active_object
    assert obj2 != obj and len(obj2.data.vertices) == 40 and "f_rest_0" not in obj2.data.attributes
    assert obj2.rotation_euler[0] == pytest.approx(-np.pi / 2)
    (tmp_path / "bad.ply").write_bytes(b"not a ply")
    with pytest.raises(RuntimeError, match="not a PLY"):
        bpy.ops.au_talking_head.import_splat(filepath=str(tmp_path / "bad.ply"))


def test_bind_splat_picks_the_nearest_triangle_and_follows(fresh: ModuleType, tmp_path: Path) -> None:
    bpy = fresh
    model, ply, binding = ext("splat.model"), ext("splat.ply"), ext("splat.binding")
    data = ext("splat.bl_data")
    face, key = uv_sphere_with_key(bpy)
    rng = np.random.default_rng(1)
    d = rng.normal(size=(60, 3))
    pts = 1.03 * d / np.linalg.norm(d, axis=1, keepdims=True)
    g = model.GaussianSet.from_rgb(pts, np.tile([1.0, 0, 0, 0], (60, 1)), np.full((60, 3), -4.0),
                                   np.full(60, 0.9), np.full((60, 3), 0.5))
    ply.write_ply(tmp_path / "user.ply", g)
    bpy.ops.au_talking_head.import_splat(filepath=str(tmp_path / "user.ply"), axis_up="Z")
    splat = bpy.context.active_object
    with pytest.raises(RuntimeError, match="select the mesh"):
        bpy.ops.au_talking_head.bind_splat()
    face.select_set(True)
    assert bpy.ops.au_talking_head.bind_splat() == {"FINISHED"}
    assert data.bound_target(splat) == face
    b = data.read_binding(splat.data)
    verts = data.mesh_vertices(face.data)
    tris, _ = data.mesh_triangles(face.data)
    d2 = binding._point_triangle_distance2(pts[:, None].repeat(len(tris), 1), verts[tris][None].repeat(60, 0))
    chosen = binding._point_triangle_distance2(pts, verts[b.tri_verts])
    assert np.allclose(chosen, d2.min(1), atol=1e-9)
    bpy.context.view_layer.update()
    assert np.abs(_rendered_means(bpy) - pts).max() < 1e-5  # binding keeps the aligned positions
    key.value = 1.0
    bpy.context.view_layer.update()
    assert np.abs(_rendered_means(bpy) - _expected_means(bpy, splat, face)).max() < 1e-5


def test_generate_rig_makes_a_bound_splat_twin_that_renders_a_head(fresh: ModuleType, tmp_path: Path) -> None:
    bpy = fresh
    data, engine, ply = ext("splat.bl_data"), ext("splat.bl_engine"), ext("splat.ply")
    regions = importlib.import_module("rigs.regions")
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    scene = bpy.context.scene
    splats = [o for o in scene.objects if data.is_splat(o)]
    assert len(splats) == 1
    face = data.bound_target(splats[0])
    assert face is not None and regions.REGION_ATTRIBUTE in face.data.attributes
    assert scene.render.engine == "AU_TALKING_HEAD_SPLAT"
    centre = np.array(face.matrix_world) @ np.append(data.mesh_vertices(face.data).mean(0), 1)
    add_camera(bpy, location=(centre[0], centre[1] - 0.8, centre[2]), size=(64, 64)).data.lens = 85
    out, _, _ = engine.render_frame(bpy.context.evaluated_depsgraph_get(), "numpy")
    assert 0.15 < out.alpha.mean() < 0.6 and out.alpha[32, 32] > 0.99  # a head fills the middle
    # The twin as a standard 3DGS PLY with binding columns.
    path = tmp_path / "twin.ply"
    twin = data.add_splat_twin(bpy.context, face, count=500, ply_path=str(path))
    header = path.read_bytes().split(b"end_header")[0].decode().splitlines()
    props = [line.split()[-1] for line in header if line.startswith("property")]
    assert props[:17] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                          "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    assert "bind_v0" in props and header[1] == "format binary_little_endian 1.0"
    g, b = ply.read_ply(path)
    assert len(g) == 500 and b is not None and len(twin.data.vertices) == 500


def test_engine_survives_save_and_reopen(fresh: ModuleType, tmp_path: Path) -> None:
    bpy = fresh
    face, key = uv_sphere_with_key(bpy)
    ext("splat.bl_data").add_splat_twin(bpy.context, face, count=300)
    add_camera(bpy, size=(24, 24))
    key.value = 0.7
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    scene = bpy.context.scene
    assert scene.render.engine == "AU_TALKING_HEAD_SPLAT"
    out, _, _ = ext("splat.bl_engine").render_frame(bpy.context.evaluated_depsgraph_get(), "numpy")
    assert out.alpha.max() > 0.9


def test_bound_sh_colours_turn_with_the_mesh(fresh: ModuleType, tmp_path: Path) -> None:
    """bind_splat stores colour frames: after a rigid turn of the mesh (shape key), a camera turned with
    it sees the SH-3 colours of the rest pose."""
    bpy = fresh
    model, ply, render = ext("splat.model"), ext("splat.ply"), ext("splat.render")
    cam_mod, data = ext("splat.camera"), ext("splat.bl_data")
    face, _ = uv_sphere_with_key(bpy)
    turn = face.shape_key_add(name="Turn", from_mix=False)
    co = np.empty(len(face.data.vertices) * 3, np.float32)
    turn.data.foreach_get("co", co)
    c, s = np.cos(np.pi / 2), np.sin(np.pi / 2)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    turn.data.foreach_set("co", (co.reshape(-1, 3) @ rot.T).astype(np.float32).ravel())
    turn.value = 0.0
    rng = np.random.default_rng(5)
    d = rng.normal(size=(50, 3))
    g = model.GaussianSet(1.02 * d / np.linalg.norm(d, axis=1, keepdims=True),
                          model.normalise_quats(rng.normal(size=(50, 4))), np.full((50, 3), -3.5),
                          np.full(50, 0.8), rng.normal(0, 0.4, (50, 16, 3)))
    ply.write_ply(tmp_path / "sh.ply", g)
    bpy.ops.au_talking_head.import_splat(filepath=str(tmp_path / "sh.ply"), axis_up="Z")
    splat = bpy.context.active_object
    splat.rotation_euler = (0.0, 0.0, 0.4)  # the splat's own frame differs from the mesh's
    face.select_set(True)
    assert bpy.ops.au_talking_head.bind_splat() == {"FINISHED"}
    cam_m = cam_mod.look_at([0.5, -4.0, 1.0], [0, 0, 0])

    def colours(camera_matrix: np.ndarray) -> np.ndarray:
        bpy.context.view_layer.update()
        camera = cam_mod.from_blender(camera_matrix, resolution_x=32, resolution_y=32)
        return render.flatten(data.collect_instances(bpy.context.evaluated_depsgraph_get()), camera)[2]

    rest = colours(cam_m)
    # Before binding, the splat object seen from the same camera has the same colours.
    splat_alone = render.SplatInstance(data.read_gaussians(splat.data), np.array(splat.matrix_world))
    camera = cam_mod.from_blender(cam_m, resolution_x=32, resolution_y=32)
    assert np.allclose(render.flatten([splat_alone], camera)[2], rest, atol=1e-4)
    turn.value = 1.0
    turned = np.eye(4)
    turned[:3, :3] = rot
    assert np.allclose(colours(turned @ cam_m), rest, atol=1e-4)
    assert np.abs(colours(cam_m) - rest).max() > 0.05  # the colours do depend on the view


def test_viewport_points_carry_a_material_reading_the_colour_attribute(fresh: ModuleType) -> None:
    bpy = fresh
    nodes_mod, data = ext("splat.bl_nodes"), ext("splat.bl_data")
    face, _ = uv_sphere_with_key(bpy)
    splat = data.add_splat_twin(bpy.context, face, count=200)
    mod = splat.modifiers[nodes_mod.MODIFIER]
    set_mat = [n for n in mod.node_group.nodes if n.bl_idname == "GeometryNodeSetMaterial"]
    assert len(set_mat) == 1 and set_mat[0].inputs["Geometry"].is_linked
    mat = set_mat[0].inputs["Material"].default_value
    assert mat is not None and mat.name == nodes_mod.MATERIAL
    attrs = [n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeAttribute"]
    assert len(attrs) == 1 and attrs[0].attribute_name == "Col" and attrs[0].outputs["Color"].is_linked
    output = next(n for n in mat.node_tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial")
    assert output.inputs["Surface"].is_linked
    # The evaluated points have the material and the per-point colours of the Gaussians.
    dg = bpy.context.evaluated_depsgraph_get()
    evaluated = splat.evaluated_get(dg)
    geometry = evaluated.evaluated_geometry()
    cloud = geometry.pointcloud
    assert [m.name for m in cloud.materials] == [nodes_mod.MATERIAL]
    col = np.empty(len(cloud.points) * 4, np.float32)
    cloud.attributes["Col"].data.foreach_get("color", col)
    want = np.empty(len(splat.data.vertices) * 4, np.float32)
    splat.data.attributes["Col"].data.foreach_get("color", want)
    assert np.allclose(col, want) and np.ptp(col.reshape(-1, 4)[:, 0]) > 0.05
