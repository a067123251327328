"""Generation stages of the rig generator and their contracts (pure), in the manner of Rigify.

``bl_stages.run_stages`` runs every stage for every rig plugin before the next stage starts. A rig plugin
is a module in ``rigs/rig_types/`` defining a class ``Rig``; it implements any of the stage methods below
(``def <stage>(self, ctx) -> None``) and reads/writes the shared ``GenerationContext``.
"""

from __future__ import annotations

#: (stage, contract), in execution order.
STAGES: tuple[tuple[str, str], ...] = (
    ("prepare", "Pure data only: read sources, compute geometry/deltas/weights. No bpy data is created."),
    ("generate_objects", "Object mode. Create objects and mesh data (vertices, faces, attributes, vertex "
                         "groups). No shape keys, no drivers."),
    ("generate_shape_keys", "Add shape keys to meshes created earlier. Objects may not be added."),
    ("generate_properties", "Create custom properties (with UI ranges/descriptions) on the control object."),
    ("rig_drivers", "Create drivers; every property they read exists already. Only simple expressions."),
    ("finalize", "Link references between objects, set scene settings, select and activate. No new data."),
)
STAGE_NAMES: tuple[str, ...] = tuple(name for name, _ in STAGES)
