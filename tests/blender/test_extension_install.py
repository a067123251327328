"""The built zip installs with Blender's own extension installer and registers its public names."""

from __future__ import annotations

import sys
from types import ModuleType

from tests.blender.conftest import EXTENSION_ID, EXTENSION_MODULE, _repo_index

# DESIGN.md §8: operators scripts rely on.
PUBLIC_OPERATORS = ("generate_rig", "generate_from_audio", "regenerate", "bake", "import_splat",
                    "bind_splat", "start_server", "stop_server")


def test_sidebar_panel_and_scene_settings_are_registered(fresh: ModuleType) -> None:
    bpy = fresh
    panel = bpy.types.VIEW3D_PT_au_talking_head
    assert (panel.bl_space_type, panel.bl_region_type, panel.bl_category) == ("VIEW_3D", "UI", "Talking Head")
    settings = bpy.context.scene.au_talking_head
    assert settings.server_url.startswith("http://127.0.0.1:")
    assert settings.rig is None
    repo = bpy.context.preferences.extensions.repos[_repo_index(bpy)]
    assert sys.modules[EXTENSION_MODULE].__file__.startswith(repo.directory), \
        "the add-on must run from the installed zip, not from the working tree"


def test_public_operators_are_registered(fresh: ModuleType) -> None:
    bpy = fresh
    ops = bpy.ops.au_talking_head
    missing = [name for name in PUBLIC_OPERATORS if not hasattr(getattr(ops, name), "get_rna_type")
               or _not_registered(getattr(ops, name))]
    assert not missing, f"operators not registered: {missing}"


def _not_registered(op: object) -> bool:
    try:
        op.get_rna_type()  # type: ignore[attr-defined]
    except KeyError:
        return True
    return False


def test_uninstall_removes_everything_and_reinstall_works(bpy: ModuleType, installed_addon: ModuleType,
                                                          addon_zip) -> None:  # type: ignore[no-untyped-def]
    result = bpy.ops.extensions.package_uninstall(repo_index=_repo_index(bpy), pkg_id=EXTENSION_ID)
    assert result == {"FINISHED"}
    try:
        assert not hasattr(bpy.types.Scene, "au_talking_head")
        assert not hasattr(bpy.types, "VIEW3D_PT_au_talking_head")
        assert EXTENSION_MODULE not in sys.modules
    finally:
        result = bpy.ops.extensions.package_install_files(
            filepath=str(addon_zip), repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}
    assert hasattr(bpy.types.Scene, "au_talking_head")
