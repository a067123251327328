"""Rig type plugins: each ``bl_<name>.py`` module here defines a class ``Rig`` with stage methods
(see ``rigs.stages``). ``rigs.bl_stages.rig_class(name)`` finds them by convention."""
