"""The rig generator: the default FACS head, its zones, landmarks and Gaussian-splat twin, and adapters
for users' own rigs (ARKit-52 names, custom maps).

Modules named ``bl_*.py`` are the only ones that may import bpy; everything else here is pure and is
shipped inside the extension zip as the subpackage ``rigs``. Imports inside this package are relative
so it works both as the top-level ``rigs`` package and as ``<extension>.rigs``.
"""
