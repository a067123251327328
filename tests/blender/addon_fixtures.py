"""Helpers of the add-on's blender tests (generation, panel): a rig and a hash of a file's datablocks.

Free ports and speech clips with known /m/ timings come from ``tests/fixtures.py`` (re-exported here under
their old names). The real server process is the session fixture ``model_server`` of ``tests/fixtures.py``,
registered for every test by ``tests/conftest.py``: request it by name, never import it into a test module
(an imported fixture becomes a second server whose token replaces the first one's in the environment).
"""

from __future__ import annotations

import hashlib
from types import ModuleType

import numpy as np

from tests.fixtures import LEAD_SILENCE_S, ROOT, Clip, espeak_clip, free_port
from tests.fixtures import ServerProcess as Server

__all__ = ["LEAD_SILENCE_S", "ROOT", "Clip", "Server", "datablock_hash", "espeak_clip", "free_port",
           "make_rig"]


def make_rig(bpy: ModuleType) -> object:
    """The default rig from the rig generator (``generate_rig``); returns the control object."""
    result = bpy.ops.au_talking_head.generate_rig()
    assert result == {"FINISHED"}, result
    ctl = bpy.context.scene.au_talking_head.rig
    assert ctl is not None
    return ctl


def datablock_hash(bpy: ModuleType) -> str:
    """A hash of what a generation could change: IDs, custom props, animation, sequencer, frame range."""
    h = hashlib.sha256()

    def add(*parts: object) -> None:
        h.update(repr(parts).encode())

    for attr in ("objects", "actions", "sounds", "meshes", "shape_keys", "scenes", "texts"):
        add(attr, sorted(i.name for i in getattr(bpy.data, attr)))
    for ob in bpy.data.objects:
        add(ob.name, sorted((k, repr(ob[k])) for k in ob.keys()))  # noqa: SIM118 (ID keys)
        ad = ob.animation_data
        if ad is not None:
            add(ad.action.name if ad.action else None, ad.action_blend_type,
                [(t.name, [(s.name, s.action.name if s.action else None) for s in t.strips])
                 for t in ad.nla_tracks])
    for action in bpy.data.actions:
        for layer in getattr(action, "layers", []):
            for strip in layer.strips:
                for bag in strip.channelbags:
                    for fc in bag.fcurves:
                        co = np.zeros(2 * len(fc.keyframe_points), np.float32)
                        fc.keyframe_points.foreach_get("co", co)
                        add(action.name, fc.data_path, co.tobytes())
    for scene in bpy.data.scenes:
        s = scene.au_talking_head
        add(scene.frame_start, scene.frame_end, s.audio_path, s.emotion, s.strength, s.frame_start,
            s.has_quality, s.last_message)
        if scene.sequence_editor:
            add([(st.name, st.channel, st.frame_start) for st in scene.sequence_editor.strips_all])
    return h.hexdigest()
