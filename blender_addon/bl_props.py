"""Scene settings of the extension: ``scene.au_talking_head`` (DESIGN.md §8)."""

from __future__ import annotations

import bpy
from bpy.props import FloatProperty, IntProperty, PointerProperty, StringProperty

DEFAULT_SERVER_URL = "http://127.0.0.1:8765"


class AUTH_PG_settings(bpy.types.PropertyGroup):
    """Per-scene settings of AU Talking Head."""

    rig: PointerProperty(  # type: ignore[valid-type]
        name="Rig",
        type=bpy.types.Object,
        description="The control object whose AU properties animate the face",
    )
    server_url: StringProperty(  # type: ignore[valid-type]
        name="Server URL",
        default=DEFAULT_SERVER_URL,
        description="Address of the local model server (loopback only)",
    )
    audio_path: StringProperty(  # type: ignore[valid-type]
        name="Audio",
        subtype="FILE_PATH",
        description="Speech recording to animate (WAV, FLAC, OGG or MP3)",
    )
    frame_start: IntProperty(  # type: ignore[valid-type]
        name="Start Frame", default=1, description="Frame at which the speech starts"
    )
    strength: FloatProperty(  # type: ignore[valid-type]
        name="Strength", default=1.0, min=0.0, max=1.0, description="Strength of the chosen emotion"
    )


CLASSES = (AUTH_PG_settings,)


def register_extra() -> None:
    bpy.types.Scene.au_talking_head = PointerProperty(type=AUTH_PG_settings)


def unregister_extra() -> None:
    if hasattr(bpy.types.Scene, "au_talking_head"):
        del bpy.types.Scene.au_talking_head
