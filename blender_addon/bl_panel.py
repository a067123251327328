"""The sidebar panel: 3D View > N > Talking Head. ``draw()`` stays thin (panels never draw headless)."""

from __future__ import annotations

import bpy


class VIEW3D_PT_au_talking_head(bpy.types.Panel):
    bl_label = "Talking Head"
    bl_idname = "VIEW3D_PT_au_talking_head"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Talking Head"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.au_talking_head
        layout = self.layout
        layout.prop(settings, "server_url")
        layout.prop(settings, "rig")
        layout.prop(settings, "audio_path")
        layout.prop(settings, "frame_start")
        layout.prop(settings, "strength")


CLASSES = (VIEW3D_PT_au_talking_head,)
