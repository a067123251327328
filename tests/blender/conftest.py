"""Fixtures of the blender tier: the real bpy, the built zip installed, a fresh empty file per test."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTENSION_ID = "au_talking_head"
EXTENSION_MODULE = f"bl_ext.user_default.{EXTENSION_ID}"

_user_dir = tempfile.mkdtemp(prefix="auth-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _user_dir  # must be set before bpy is imported


@pytest.fixture(scope="session")
def bpy() -> ModuleType:
    """The real Blender as a Python module."""
    import bpy as _bpy

    return _bpy


@pytest.fixture(scope="session")
def addon_zip() -> Path:
    """The extension zip, built from the working tree for this session."""
    sys.path.insert(0, str(ROOT))
    import build_addon

    out = Path(tempfile.mkdtemp(prefix="auth-dist-"))
    return build_addon.build(out)


@pytest.fixture(scope="session")
def installed_addon(bpy: ModuleType, addon_zip: Path) -> Iterator[ModuleType]:
    """Install the built zip with Blender's extension installer, enabled; uninstall at the end."""
    result = bpy.ops.extensions.package_install_files(
        filepath=str(addon_zip), repo="user_default", enable_on_install=True
    )
    assert result == {"FINISHED"}, f"extension install failed: {result}"
    module = sys.modules.get(EXTENSION_MODULE)
    assert module is not None, f"{EXTENSION_MODULE} not imported after install"
    yield module
    bpy.ops.extensions.package_uninstall(repo_index=_repo_index(bpy), pkg_id=EXTENSION_ID)


def _repo_index(bpy: ModuleType) -> int:
    repos = bpy.context.preferences.extensions.repos
    return next(i for i, r in enumerate(repos) if r.module == "user_default")


@pytest.fixture()
def fresh(bpy: ModuleType, installed_addon: ModuleType) -> ModuleType:
    """A fresh empty file with the extension still enabled; returns bpy."""
    bpy.ops.wm.read_homefile(use_empty=True)
    assert hasattr(bpy.types.Scene, "au_talking_head"), "extension was unregistered by read_homefile"
    return bpy
