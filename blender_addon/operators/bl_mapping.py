"""The mapping editor's state and operators: what drives the current character, its weights, live preview.

``Scene.au_talking_head_mapping`` (:class:`AUTH_PG_mapping`) holds the character last adapted (or picked
with Show Mapping), one row per AU weight on a shape key (editable) or per derived driver (visemes, gaze,
the lip closure) or recorded bone pose (read-only), the last Adapt Character report, and the preview
controls. Editing a weight stores the weights that differ from the recognised ones on the mesh
(``rigs.arkit.MAP_PROP``, au-map/1 JSON) and adapts the mesh again, so the drivers follow at once. Load /
Save AU Map read and write the whole table as an au-map/1 file (which Adapt Character's AU Map also takes).

Preview sets one AU property on the control object (no key is inserted) and puts the old value back when
it is switched off or moved to another AU.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from au_contract import ACTION_UNITS
from rigs.arkit import MAP_PROP, load_custom_map, map_from_text, map_to_text, save_custom_map
from rigs.bl_adapt import adapt_mesh
from rigs.bl_bones import find_armature, poses_for
from rigs.errors import AdaptError, MappingError
from rigs.mapping import MapRow, edits_against, mapping_rows, plan_character, plan_map

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

AU_ITEMS = tuple((au.code, au.label, au.name) for au in ACTION_UNITS)
_filling = False  # rows are being rebuilt: their update callbacks must not adapt the mesh


def _mapping(context: Any) -> Any:
    return context.scene.au_talking_head_mapping


def _shape_names(obj: Any) -> list[str]:
    return [kb.name for kb in obj.data.shape_keys.key_blocks][1:]


def _is_shape_character(obj: Any) -> bool:
    return obj is not None and obj.type == "MESH" and obj.data.shape_keys is not None


def set_rows(mapping: Any, rows: list[MapRow]) -> None:
    """Replace the editor's rows (without triggering their weight callbacks)."""
    global _filling
    _filling = True
    try:
        mapping.rows.clear()
        for row in rows:
            item = mapping.rows.add()
            item.au, item.target, item.role, item.editable = row.au, row.target, row.role, row.editable
            item.weight = row.weight
    finally:
        _filling = False


def pose_rows(obj: Any) -> list[MapRow]:
    """Read-only rows of a bone-based character: one per AU pose, naming its bones."""
    arm = find_armature(obj)
    preset, poses = poses_for(arm)
    return [MapRow(key, ", ".join(sorted(bones)), 1.0, f"{preset}: {len(bones)} bones", False)
            for key, bones in sorted(poses.items())]


def note_adapt(context: Any, obj: Any, plan: Any) -> None:
    """After Adapt Character: remember the character, its report and its rows."""
    mapping = _mapping(context)
    mapping.character = obj
    mapping.report = plan.summary(obj.name)
    mapping.report_ok = bool(getattr(plan, "clean", not getattr(plan, "missing", [])))
    mapping.bones = not _is_shape_character(obj)
    set_rows(mapping, pose_rows(obj) if mapping.bones else mapping_rows(plan))


def refresh(context: Any, obj: Any) -> None:
    """Show ``obj``'s mapping as Adapt Character plans it now (recognised names plus stored edits).

    Raises:
        AdaptError, MappingError: when ``obj`` is neither a mesh with shape keys nor a posed armature.
    """
    if _is_shape_character(obj):
        edits = map_from_text(str(obj[MAP_PROP])) if obj.get(MAP_PROP) else None
        plan = plan_character(_shape_names(obj), None, edits)
        mapping = _mapping(context)
        mapping.character = obj
        mapping.report = plan.summary(obj.name) + " (planned; press Adapt Character to apply)"
        mapping.report_ok, mapping.bones = plan.clean, False
        set_rows(mapping, mapping_rows(plan))
    elif find_armature(obj) is not None:
        mapping = _mapping(context)
        mapping.character, mapping.bones = obj, True
        set_rows(mapping, pose_rows(obj))
    else:
        raise AdaptError("pick a mesh with shape keys or a face armature to see its mapping")


def store_table(context: Any, obj: Any, au_map: dict[str, dict[str, float]]) -> None:
    """Keep the part of ``au_map`` that differs from recognition on ``obj`` and adapt it with it."""
    recognised = plan_character(_shape_names(obj))
    edits = edits_against(recognised, au_map)
    if edits:
        obj[MAP_PROP] = map_to_text(edits)
    elif MAP_PROP in obj.keys():  # noqa: SIM118 (ID keys)
        del obj[MAP_PROP]
    note_adapt(context, obj, adapt_mesh(context, obj))


def table(mapping: Any) -> dict[str, dict[str, float]]:
    """The editable rows as a custom map (AU -> {shape key: weight}), weights rounded to 4 decimals."""
    out: dict[str, dict[str, float]] = {}
    for row in mapping.rows:
        if row.editable:
            out.setdefault(row.au, {})[row.target] = round(float(row.weight), 4)
    return out


def _on_weight(row: Any, context: Any) -> None:
    mapping = _mapping(context)
    obj = mapping.character
    if _filling or not row.editable or not _is_shape_character(obj):
        return
    try:
        store_table(context, obj, table(mapping))
    except (AdaptError, MappingError) as exc:
        mapping.report, mapping.report_ok = str(exc), False


def _restore(control: Any, mapping: Any) -> None:
    if mapping.preview_code and mapping.preview_code in control.keys():  # noqa: SIM118 (ID keys)
        control[mapping.preview_code] = mapping.preview_saved
    mapping.preview_code = ""


def _on_preview(mapping: Any, context: Any) -> None:
    """Show (or take back) the previewed AU on the control object, without keying it."""
    control = getattr(context.scene.au_talking_head, "rig", None)
    if control is None:
        return
    if mapping.preview_code and (not mapping.preview or mapping.preview_code != mapping.preview_au):
        _restore(control, mapping)
    if mapping.preview and mapping.preview_au in control.keys():  # noqa: SIM118 (ID keys)
        if not mapping.preview_code:
            mapping.preview_saved = float(control[mapping.preview_au])
            mapping.preview_code = mapping.preview_au
        control[mapping.preview_au] = mapping.preview_value
    control.update_tag()


class AUTH_PG_map_row(bpy.types.PropertyGroup):
    """One row of the mapping editor (``rigs.mapping.MapRow``)."""

    au: StringProperty(name="AU")  # type: ignore[valid-type]
    target: StringProperty(name="Target", description="Shape key (or bones of a pose)")  # type: ignore[valid-type]
    weight: FloatProperty(  # type: ignore[valid-type]
        name="Weight", min=0.0, soft_max=1.5, max=4.0, precision=3, update=_on_weight,
        description="How much of the AU's zone-rule value the shape key takes")
    role: StringProperty(name="Role")  # type: ignore[valid-type]
    editable: BoolProperty(name="Editable")  # type: ignore[valid-type]


class AUTH_PG_mapping(bpy.types.PropertyGroup):
    """The mapping editor's state (Scene.au_talking_head_mapping)."""

    character: PointerProperty(name="Character", type=bpy.types.Object)  # type: ignore[valid-type]
    rows: CollectionProperty(type=AUTH_PG_map_row)  # type: ignore[valid-type]
    row_index: IntProperty(name="Row")  # type: ignore[valid-type]
    report: StringProperty(name="Last Report")  # type: ignore[valid-type]
    report_ok: BoolProperty(name="Clean", default=True)  # type: ignore[valid-type]
    bones: BoolProperty(name="Bone Poses", description="The character is driven through bone poses")  # type: ignore[valid-type]
    preview: BoolProperty(  # type: ignore[valid-type]
        name="Preview", default=False, update=_on_preview,
        description="Show the AU on the face now (the control's property is set, not keyed; switching off "
                    "puts the old value back)")
    preview_au: EnumProperty(name="AU", items=AU_ITEMS, default="AU12", update=_on_preview)  # type: ignore[valid-type]
    preview_value: FloatProperty(  # type: ignore[valid-type]
        name="Value", min=0.0, max=1.0, default=1.0, update=_on_preview, subtype="FACTOR")
    preview_code: StringProperty(options={"HIDDEN"})  # type: ignore[valid-type]
    preview_saved: FloatProperty(options={"HIDDEN"})  # type: ignore[valid-type]


class AUTH_OT_show_mapping(bpy.types.Operator):
    """Show the mapping of the active object (a mesh with shape keys, or a face armature) in the editor"""

    bl_idname = "au_talking_head.show_mapping"
    bl_label = "Show Mapping"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        try:
            refresh(context, context.active_object)
        except (AdaptError, MappingError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class JsonFileOperator:
    """Mixin of the JSON save/load operators: a file path, a ``*.json`` filter, and a file browser that
    opens on :meth:`default_filename` (also used by the pose-preset operators)."""

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    def default_filename(self, context: Any) -> str:
        """The file name the browser proposes; subclasses name it after what they save."""
        raise NotImplementedError

    def invoke(self, context: Any, _event: Any) -> set[OperatorReturnItems]:
        if not self.filepath:
            self.filepath = self.default_filename(context)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}


class _MapFile(JsonFileOperator):

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not _is_shape_character(_mapping(context).character):
            cls.poll_message_set("Adapt a mesh with shape keys first (or Show Mapping of one)")
            return False
        return True

    def default_filename(self, context: Any) -> str:
        return f"{_mapping(context).character.name}_au_map.json"


class AUTH_OT_save_au_map(_MapFile, bpy.types.Operator):
    """Save the character's whole AU -> shape-key table as an au-map/1 JSON file"""

    bl_idname = "au_talking_head.save_au_map"
    bl_label = "Save AU Map"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        mapping = _mapping(context)
        try:
            au_map = table(mapping) or plan_map(plan_character(_shape_names(mapping.character)))
            save_custom_map(Path(bpy.path.abspath(self.filepath)), au_map)
        except MappingError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {sum(len(t) for t in au_map.values())} AU weights to {self.filepath}")
        return {"FINISHED"}


class AUTH_OT_load_au_map(_MapFile, bpy.types.Operator):
    """Load an AU map (au-map/1 JSON) onto the character: its weights replace those of the keys it names"""

    bl_idname = "au_talking_head.load_au_map"
    bl_label = "Load AU Map"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender API)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturnItems]:
        mapping = _mapping(context)
        obj = mapping.character
        try:
            store_table(context, obj, load_custom_map(Path(bpy.path.abspath(self.filepath))))
        except (AdaptError, MappingError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"} if mapping.report_ok else {"WARNING"}, mapping.report)
        return {"FINISHED"}


CLASSES = (AUTH_PG_map_row, AUTH_PG_mapping, AUTH_OT_show_mapping, AUTH_OT_save_au_map, AUTH_OT_load_au_map)


def register_extra() -> None:
    """The editor's state on every scene."""
    bpy.types.Scene.au_talking_head_mapping = PointerProperty(type=AUTH_PG_mapping)  # type: ignore[func-returns-value]


def unregister_extra() -> None:
    """Remove the scene property (classes are unregistered by ``bl_register``)."""
    del bpy.types.Scene.au_talking_head_mapping
