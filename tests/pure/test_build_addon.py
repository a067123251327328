"""build_addon.py: version stamping, manifest validation, zip contents."""

from __future__ import annotations

import io
import tomllib
import zipfile
from pathlib import Path

import pytest

import build_addon


def test_zip_has_manifest_at_root_with_project_version(tmp_path: Path) -> None:
    target = build_addon.build(tmp_path)
    assert target.name == f"au_talking_head-{build_addon.project_version()}.zip"
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert manifest["version"] == build_addon.project_version()
    assert manifest["id"] == "au_talking_head"
    assert "__init__.py" in names and "bl_register.py" in names
    wheel = f"wheels/au_talking_head_runtime-{build_addon.project_version()}-py3-none-any.whl"
    assert manifest["wheels"] == [f"./{wheel}"] and wheel in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]
    assert not [n for n in names if Path(n).name.startswith(".")]


def test_zip_holds_only_runtime_code(tmp_path: Path) -> None:
    """The extension folder is the zip: no batch renderer, demo, training or head-baking code in it."""
    target = build_addon.build(tmp_path)
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
        wheel_name = next(n for n in names if n.startswith("wheels/"))
        with zipfile.ZipFile(io.BytesIO(zf.read(wheel_name))) as wheel:
            wheel_names = wheel.namelist()
    repo_addon = {p.relative_to(build_addon.ADDON_DIR).as_posix()
                  for p in build_addon.ADDON_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert set(names) - {wheel_name} == repo_addon, "the zip must hold exactly the extension folder"
    forbidden = ("batch", "demo", "training", "head_build", "evaluate", "model_server")
    assert not [n for n in names + wheel_names if any(f in n for f in forbidden)]
    assert "au_contract/tracks.py" in wheel_names and "rigs/data/default_head.npz" in wheel_names
    assert "rigs/head_data.py" in wheel_names


def test_no_symlink_in_the_repository() -> None:
    root = build_addon.ROOT
    skip = {".git", ".venv", "dist", "out", "node_modules"}
    links = [p for p in root.rglob("*") if p.is_symlink() and not skip & set(p.relative_to(root).parts)]
    assert not links, f"symlinks in the repository: {links}"


def test_build_is_deterministic(tmp_path: Path) -> None:
    a = build_addon.build(tmp_path / "a").read_bytes()
    b = build_addon.build(tmp_path / "b").read_bytes()
    assert a == b


def test_version_is_stamped_not_copied() -> None:
    text = 'schema_version = "1.0.0"\nid = "x"\nversion = "9.9.9"\n[build]\nversion = "keep"\n'
    stamped = build_addon.stamp_version(text, "1.2.3")
    assert 'version = "1.2.3"' in stamped and 'version = "keep"' in stamped and "9.9.9" not in stamped


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.replace('id = "au_talking_head"', 'id = "other"'), "expected 'au_talking_head'"),
    (lambda d: d.replace('blender_version_min = "4.2.0"', 'blender_version_min = "4.1.0"'), "4.2.0 or newer"),
    (lambda d: d.replace('license = ["SPDX:Apache-2.0"]', 'license = ["Apache"]'), "SPDX"),
    (lambda d: d.replace("[permissions]", "[permissions_gone]"), "permissions.network"),
    (lambda d: d + "\n[[broken", "not valid TOML"),
])
def test_invalid_manifest_is_rejected_with_a_clear_message(edit, message) -> None:  # type: ignore[no-untyped-def]
    text = (build_addon.ADDON_DIR / "blender_manifest.toml").read_text()
    build_addon.validate_manifest(text)  # the shipped one is valid
    with pytest.raises(build_addon.ManifestError, match=message):
        build_addon.validate_manifest(edit(text))


def test_if_stale_rebuilds_only_when_sources_change(tmp_path: Path) -> None:
    target = build_addon.build(tmp_path)
    assert not build_addon.is_stale(target)
    target.unlink()
    assert build_addon.is_stale(target)
