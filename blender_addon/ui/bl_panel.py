"""The sidebar panel: 3D View > N > Talking Head. ``draw()`` stays thin (panels never draw headless).

Sections: server (status, start/stop), rig (generate the default rig or adapt a mesh), audio and timing,
emotion, options, Generate / Regenerate / Bake, and the last run's quality summary. Buttons whose
operator cannot run are greyed out by Blender, which shows the operator's ``poll_message_set`` reason.
Operators of other parts (``generate_rig``, the rig adapter) are drawn only once they are registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy

from ..operators import bl_animate as bl_op_generate
from ..operators import bl_server as bl_op_server

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import IconItems

#: (operator id, label, icon) of rig operators provided by the rig generator, drawn when registered.
RIG_OPERATORS: tuple[tuple[str, str, IconItems], ...] = (
    ("au_talking_head.generate_rig", "Generate Rig", "OUTLINER_OB_ARMATURE"),
    ("au_talking_head.adapt_rig", "Adapt Selected Mesh", "SHAPEKEY_DATA"),
)
_STATUS_ICONS: dict[str, IconItems] = {"RUNNING": "CHECKMARK", "STOPPED": "CANCEL", "STARTING": "SORTTIME",
                                       "UNKNOWN": "QUESTION"}


def operator_registered(idname: str) -> bool:
    """True if ``bpy.ops.<idname>`` exists (e.g. ``"au_talking_head.generate_rig"``)."""
    module, _, name = idname.partition(".")
    try:
        getattr(getattr(bpy.ops, module), name).get_rna_type()
    except (AttributeError, KeyError):
        return False
    return True


def draw_server(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    box = layout.box()
    state, text = bl_op_server.status()
    box.label(text=f"Server: {text}", icon=_STATUS_ICONS.get(state, "QUESTION"))
    box.prop(settings, "server_url", text="URL")
    row = box.row(align=True)
    row.operator("au_talking_head.start_server", icon="PLAY")
    row.operator("au_talking_head.stop_server", icon="PAUSE")
    row.operator("au_talking_head.check_server", text="", icon="FILE_REFRESH")


def draw_rig(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    box = layout.box()
    box.label(text="Rig", icon="OUTLINER_OB_EMPTY")
    box.prop(settings, "rig", text="")
    row = box.row(align=True)
    for idname, label, icon in RIG_OPERATORS:
        if operator_registered(idname):
            row.operator(idname, text=label, icon=icon)


def draw_generation(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    box = layout.box()
    box.label(text="Speech", icon="SOUND")
    box.prop(settings, "audio_path", text="")
    row = box.row(align=True)
    row.prop(settings, "transcript", text="", icon="TEXT")  # empty: <audio>.txt beside the audio
    row.prop(settings, "language", text="")
    box.prop(settings, "frame_start")
    col = box.column(align=True)
    col.prop(settings, "emotion")
    col.prop(settings, "strength", slider=True)
    opts = box.column(align=True)
    row = opts.row(align=True)
    row.prop(settings, "blinks", toggle=True)
    row.prop(settings, "prosody", toggle=True)
    row.prop(settings, "precise", toggle=True)
    opts.prop(settings, "smoothing", slider=True)
    opts.prop(settings, "seed")
    opts.prop(settings, "tolerance")
    box.separator()
    col = box.column(align=True)
    col.scale_y = 1.4
    if bl_op_generate.job_running():
        col.label(text="Generating... (Esc to cancel)", icon="SORTTIME")
    col.operator("au_talking_head.generate_from_audio", icon="PLAY_SOUND")
    row = box.row(align=True)
    row.operator("au_talking_head.regenerate", icon="FILE_REFRESH")
    row.operator("au_talking_head.bake", icon="KEYINGSET")


def draw_quality(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    error = bl_op_generate.last_error
    if not settings.has_quality and not error:
        return
    box = layout.box()
    box.label(text="Last Run", icon="INFO")
    if settings.has_quality:
        col = box.column(align=True)
        lag = f"{settings.quality_lag_ms:+.0f} ms" if settings.quality_has_lag else "n/a"
        col.label(text=f"Estimated lag: {lag}")
        col.label(text=f"Lip closures: {settings.quality_closures}")
        col.label(text=f"Jitter: {settings.quality_jitter:.3f}")
    if error:
        box.label(text=f"Failed: {error}", icon="ERROR")


class VIEW3D_PT_au_talking_head(bpy.types.Panel):
    bl_label = "Talking Head"
    bl_idname = "VIEW3D_PT_au_talking_head"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Talking Head"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.au_talking_head
        layout = self.layout
        draw_server(layout, settings)
        draw_rig(layout, settings)
        draw_generation(layout, settings)
        draw_quality(layout, settings)


CLASSES = (VIEW3D_PT_au_talking_head,)
