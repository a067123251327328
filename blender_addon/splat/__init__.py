"""Gaussian splats: data model, file formats, rig binding, camera and rasterizers (DESIGN.md §6).

Pure subpackage: no bpy. Imports inside it are relative so it works both as ``blender_addon.splat``
(tests, bench, model server) and as ``<extension>.splat`` inside Blender.

Layers, in the manner of gsplat: ``model`` (the Gaussians, covariances, SH colour), ``camera``
(Blender camera to pinhole/orthographic intrinsics), ``project`` (3D to 2D conics) and the
compositors ``raster_numpy`` / ``raster_torch`` with their slow readable twin ``reference``.
"""
