"""build_addon.py: version stamping, manifest validation, zip contents, one self-contained zip per platform.

The zips are built with the wheels cached in dist/wheelhouse/ (scripts/install.sh fetches them once).
"""

from __future__ import annotations

import io
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

import build_addon

RUNTIME_WHEEL = f"wheels/au_talking_head_runtime-{build_addon.project_version()}-py3-none-any.whl"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host's zip, built once for this module."""
    return build_addon.build(tmp_path_factory.mktemp("dist"))


def _manifest_wheels(manifest: dict) -> list[str]:
    """The wheels Blender installs from a split-platform zip (``[build.generated]`` narrows the list)."""
    return manifest.get("build", {}).get("generated", {}).get("wheels", manifest["wheels"])


def test_zip_has_manifest_at_root_with_project_version(built: Path) -> None:
    target = built
    assert target.name == f"au_talking_head-{build_addon.project_version()}-linux_x64.zip"
    with zipfile.ZipFile(target) as zf:
        names = zf.namelist()
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert manifest["version"] == build_addon.project_version()
    assert manifest["id"] == "au_talking_head"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert "__init__.py" in names and "bl_register.py" in names and "LICENSE" in names
    wheels = _manifest_wheels(manifest)
    assert f"./{RUNTIME_WHEEL}" in wheels and RUNTIME_WHEEL in names
    assert sorted(w[2:] for w in wheels) == sorted(n for n in names if n.startswith("wheels/"))
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]
    assert not [n for n in names if Path(n).name.startswith(".")]


def test_zip_holds_only_runtime_code(built: Path) -> None:
    """The extension folder plus wheels: no batch renderer, demo, training or head-baking code in it."""
    with zipfile.ZipFile(built) as zf:
        names = zf.namelist()
        with zipfile.ZipFile(io.BytesIO(zf.read(RUNTIME_WHEEL))) as wheel:
            wheel_names = wheel.namelist()
    repo_addon = {p.relative_to(build_addon.ADDON_DIR).as_posix()
                  for p in build_addon.ADDON_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    extension = {n for n in names if not n.startswith("wheels/")}
    assert extension == repo_addon, "the zip must hold exactly the extension folder (and its wheels)"
    forbidden = ("batch", "demo", "training", "head_build", "evaluate")
    assert not [n for n in names + wheel_names if any(f in n for f in forbidden)]
    assert "au_contract/tracks.py" in wheel_names and "rigs/data/default_head.npz" in wheel_names
    assert "rigs/head_data.py" in wheel_names
    assert "model_server/service.py" in wheel_names and "model_server/weights/acoustic.onnx" in wheel_names


def test_each_platform_zip_carries_the_server_for_both_blender_pythons(tmp_path: Path) -> None:
    """linux, windows, macOS: the server's wheels for cp311 and cp313, no numpy, within 40 MB, valid."""
    zips = build_addon.build_platforms(tmp_path)
    assert set(zips) == set(build_addon.PLATFORMS)
    needed = {"fastapi", "starlette", "uvicorn", "pydantic", "pydantic_core", "anyio", "h11", "click",
              "soundfile", "soxr", "cffi", "onnxruntime", "au_talking_head_runtime", "espeakng_loader"}
    for platform, path in zips.items():
        assert path.stat().st_size <= 50e6, f"{platform} zip is {path.stat().st_size / 1e6:.1f} MB"
        wheels = build_addon.wheel_summary(path)
        dists = {w.split("-")[0].lower() for w in wheels}
        assert needed <= dists, f"{platform} lacks {needed - dists}"
        assert "numpy" not in dists, "Blender ships numpy: a bundled copy would fight it"
        for binary in ("onnxruntime", "pydantic_core", "cffi"):
            tags = {w.split("-")[2] for w in wheels if w.startswith(binary + "-")}
            assert tags == {"cp311", "cp313"}, f"{platform} {binary}: {tags}"
        windows_ort = [w for w in wheels if w.startswith("onnxruntime-") and "-cp311-" in w]
        if platform == "windows-x64":
            assert windows_ort == ["onnxruntime-1.18.1-cp311-cp311-win_amd64.whl"], windows_ort
        build_addon.blender_validate(path)  # Blender's own check (raises with its message)


def test_blender_validate_rejects_a_broken_zip(tmp_path: Path, built: Path) -> None:
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "blender_manifest.toml":
                data = data.replace(b'type = "add-on"', b'type = "gadget"')
            dst.writestr(name, data)
    with pytest.raises(build_addon.BuildError, match="validate"):
        build_addon.blender_validate(broken)


def test_no_symlink_in_the_repository() -> None:
    """No file the repository holds, or would hold on the next commit, is a symlink (git mode 120000).

    Ignored build output and caches (.venv*, dist/, .cache/) are not the repository's and may hold links.
    """
    root = build_addon.ROOT
    listed = subprocess.run(["git", "ls-files", "-s"], cwd=root, capture_output=True, text=True, check=True)
    tracked = [line.split("\t", 1)[1] for line in listed.stdout.splitlines() if line.startswith("120000 ")]
    others = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "-z"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    untracked = [name for name in others if name and (root / name).is_symlink()]
    assert not tracked + untracked, f"symlinks in the repository: {tracked + untracked}"


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
    (lambda d: d.replace('license = ["SPDX:GPL-3.0-or-later"]', 'license = ["Apache"]'), "SPDX"),
    (lambda d: d.replace('license = ["SPDX:GPL-3.0-or-later"]', 'license = ["SPDX:Apache-2.0"]'),
     "GPL-3.0-or-later"),
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
    assert target == build_addon.zip_path(tmp_path)
    assert not build_addon.is_stale(target)
    target.unlink()
    assert build_addon.is_stale(target)
