"""The extension's exceptions: one root, :class:`AddonError`, so an operator can catch every add-on problem
and turn it into a report a user can act on.

The concrete exceptions live beside what raises them (``server.client.ServerError``,
``server.launch.LaunchError``, ``server.worker.JobCancelledError``, ``animation.generation.GenerationError``,
``animation.bl_layers.LayerError``, ``operators.bl_animate.ApplyError``, ``splat.model.SplatError``); each
keeps its builtin base (``ValueError``, ``RuntimeError``) where callers catch that. Pure module: no bpy.
"""

from __future__ import annotations


class AddonError(Exception):
    """Root of every error the extension raises."""
