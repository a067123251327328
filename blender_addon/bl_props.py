"""Scene settings of the extension: ``scene.au_talking_head`` (DESIGN.md §8), and its preferences."""

from __future__ import annotations

from typing import Any, cast

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

from au_contract import CONTROL_MARKER_PROP, EMOTIONS
from au_contract.connection import DEFAULT_URL as DEFAULT_SERVER_URL
from au_contract.options import DEFAULT_LANGUAGE
from au_contract.options import SPECS as OPTION_SPECS

from .animation.bl_lines import AUTH_PG_line
from .animation.bl_lines import on_select as on_line_select

#: Blender's IntProperty is 32-bit; the contract's seed goes to 2**63-1.
_INT_MAX = 2**31 - 1

#: Enum items of the emotion choice: (identifier, label, description), identifiers = au_contract.EMOTIONS.
EMOTION_ITEMS = [(e, e.title(), f"Colour the face with {e.lower()} (neutral: speech only)") for e in EMOTIONS]


def option_range(name: str) -> dict[str, Any]:
    """``default``, ``min`` and ``max`` of a Blender property mirroring request option ``name`` (contract)."""
    spec = OPTION_SPECS[name]
    out: dict[str, Any] = {"default": spec.default, "description": spec.help[0].upper() + spec.help[1:]}
    if spec.minimum is not None and spec.maximum is not None:
        out.update(min=spec.minimum, max=min(spec.maximum, _INT_MAX) if spec.kind is int else spec.maximum)
    return out


def is_control_object(obj: bpy.types.Object | None) -> bool:
    """True if ``obj`` is an AU Talking Head control object (it carries the contract marker)."""
    return obj is not None and CONTROL_MARKER_PROP in obj  # type: ignore[operator]  # stubs: ID lacks __contains__


def _poll_rig(_self: bpy.types.PropertyGroup, obj: bpy.types.Object) -> bool:
    return is_control_object(obj)


class AUTH_PG_settings(bpy.types.PropertyGroup):
    """Per-scene settings of AU Talking Head."""

    rig: PointerProperty(  # type: ignore[valid-type]
        name="Rig",
        type=bpy.types.Object,
        poll=_poll_rig,
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
    emotion: EnumProperty(  # type: ignore[valid-type]
        name="Emotion", items=EMOTION_ITEMS, default=OPTION_SPECS["emotion"].default,
        description="Emotion colouring the face; keyframe its strength on the rig to change it over time",
    )
    # The request options the panel mirrors: defaults, ranges and tooltips from au_contract.options.
    strength: FloatProperty(  # type: ignore[valid-type]
        name="Strength", **{**option_range("strength"), "description": "Strength of the chosen emotion"}
    )
    blinks: BoolProperty(name="Blinks", **option_range("blinks"))  # type: ignore[valid-type]
    prosody: BoolProperty(name="Prosody", **option_range("prosody"))  # type: ignore[valid-type]
    smoothing: FloatProperty(name="Smoothing", **option_range("smoothing"))  # type: ignore[valid-type]
    # Off by default, as on the server: deeper closures and fewer false ones on the dev set, one of the
    # demo clip's twenty closures less sealed (model_server.views).
    precise: BoolProperty(name="Precise Lips", **option_range("precise"))  # type: ignore[valid-type]
    seed: IntProperty(name="Seed", **option_range("seed"))  # type: ignore[valid-type]
    transcript: StringProperty(  # type: ignore[valid-type]
        name="Transcript", default="",
        description="The line's text (dialog mode: the lips hit every consonant). Empty: a UTF-8 .txt with "
                    "the audio's name beside it is used when present")
    language: StringProperty(  # type: ignore[valid-type]
        name="Language", default=DEFAULT_LANGUAGE,
        description="Language of the transcript, an espeak-ng voice code, a language tag or a language "
                    "name: en, en-US, en-GB, de, fr, es-MX, pt-BR, zh, French, Español...")
    tolerance: FloatProperty(  # type: ignore[valid-type]
        name="Key Tolerance", default=0.01, min=0.0005, max=0.1, precision=4,
        description="Largest difference between the keys written and the model's track (AU units)",
    )
    # Results of the last run (shown in the panel).
    has_quality: BoolProperty(default=False, options={"HIDDEN"})  # type: ignore[valid-type]
    quality_lag_ms: FloatProperty(name="Lag (ms)", default=0.0)  # type: ignore[valid-type]
    quality_has_lag: BoolProperty(default=False, options={"HIDDEN"})  # type: ignore[valid-type]
    quality_closures: IntProperty(name="Lip Closures", default=0)  # type: ignore[valid-type]
    quality_jitter: FloatProperty(name="Jitter", default=0.0, precision=4)  # type: ignore[valid-type]
    last_message: StringProperty(name="Last Result", default="")  # type: ignore[valid-type]
    # The scene's lines (animation/bl_lines.py): one per generation, listed in the panel.
    lines: CollectionProperty(type=AUTH_PG_line)  # type: ignore[valid-type]
    line_index: IntProperty(name="Line", default=-1, update=on_line_select)  # type: ignore[valid-type]


class AUTH_AP_preferences(bpy.types.AddonPreferences):
    """Preferences: which Python runs the local model server."""

    bl_idname = __package__

    server_python: StringProperty(  # type: ignore[valid-type]
        name="Server Python",
        subtype="FILE_PATH",
        description="Python interpreter that can run 'python -m model_server serve' (the project's "
                    ".venv/bin/python). Empty: $AU_TALKING_HEAD_PYTHON, this Python, or au-talking-head "
                    "on PATH",
    )

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.prop(self, "server_python")


CLASSES = (AUTH_PG_settings, AUTH_AP_preferences)


def preferences() -> AUTH_AP_preferences | None:
    """The extension's preferences, or None if Blender has none for it (e.g. a half registration)."""
    addon: bpy.types.Addon | None = bpy.context.preferences.addons.get(__package__)
    return cast(AUTH_AP_preferences, addon.preferences) if addon is not None else None


def register_extra() -> None:
    bpy.types.Scene.au_talking_head = PointerProperty(type=AUTH_PG_settings)  # type: ignore[func-returns-value]


def unregister_extra() -> None:
    if hasattr(bpy.types.Scene, "au_talking_head"):
        del bpy.types.Scene.au_talking_head
