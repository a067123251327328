"""Third-party wheels for the extension zips, and Blender's extension tool (used by build_addon.py).

The server runtime needs, besides Blender's own numpy, FastAPI + uvicorn (and their dependencies),
soundfile, soxr, orjson, onnxruntime and espeakng-loader (libespeak-ng and its data, for dialog mode),
as wheels for each Blender platform and both Blender Pythons
(cp311: Blender 4.2 LTS to 5.0; cp313: 5.1 and later). :func:`fetch_wheels` resolves them with pip's
dry-run report for the target platform and Python, downloads them once into ``dist/wheelhouse/`` and
writes a lock file there, so later builds run offline. Blender's extension tool
(``bl_pkg/cli/blender_ext.py``, inside the bpy package) builds and validates the zips.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent

#: Blender platform name -> the pip platform tags its wheels may carry.
PLATFORMS: dict[str, tuple[str, ...]] = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "windows-x64": ("win_amd64",),
    "macos-arm64": ("macosx_13_0_arm64",),  # onnxruntime for cp313 needs macOS 13
    "macos-x64": ("macosx_13_0_x86_64",),
}
#: The platform of the machines that build and test (its zip is the one the tests install).
HOST_PLATFORM = "linux-x64"
#: Blender's Pythons: 3.11 (Blender 4.2 LTS to 5.0), 3.13 (Blender 5.1 and later).
PYTHONS = ("3.11", "3.13")
#: What the server runtime imports besides numpy (Blender ships numpy: 1.26 in 4.2-5.0, 2.x in 5.1+).
#: Pinned so a rebuild gives the same zip; their own dependencies are resolved per platform/Python.
#: espeakng-loader: libespeak-ng 1.52 with espeak-ng-data (GPL-3.0-or-later, like the extension), one
#: py3-none wheel per platform (~10 MB, half of it the Russian dictionary), which the server's dialog mode
#: loads through ctypes (model_server.espeak); without it a transcript works only where the system has
#: libespeak-ng (a Linux package), never in Blender on Windows or macOS.
SERVER_REQUIREMENTS = ("fastapi==0.165.0", "uvicorn==0.54.0", "soundfile==0.14.0", "soxr==1.1.0",
                       "orjson==3.13.0", "espeakng-loader==0.2.4")
#: Never bundled: Blender has it (and a second copy would fight Blender's own).
NOT_BUNDLED = frozenset({"numpy"})
#: onnxruntime per Python (and platform where it must differ), installed without its dependencies
#: (coloredlogs, flatbuffers, protobuf, sympy serve only its tools, never ``InferenceSession``).
#: cp311: 1.18.1, the last release whose Windows build loads inside Blender 4.x (1.19+ needs a newer
#: MSVC C++ runtime than Blender 4.x ships), built against numpy 1.x like Blender 4.2-5.0. macOS cp311:
#: 1.16.3, the last release with single-architecture wheels (6-7 MB against 16 MB universal2).
#: cp313: 1.23.2, the first with numpy 2 and single-architecture macOS wheels that are not larger.
#: The model (ONNX IR 8, opset 17) runs on all of them.
ONNXRUNTIME: dict[tuple[str, str], str] = {
    ("3.11", "linux-x64"): "1.18.1", ("3.11", "windows-x64"): "1.18.1",
    ("3.11", "macos-arm64"): "1.16.3", ("3.11", "macos-x64"): "1.16.3",
    ("3.13", "linux-x64"): "1.23.2", ("3.13", "windows-x64"): "1.23.2",
    ("3.13", "macos-arm64"): "1.23.2", ("3.13", "macos-x64"): "1.23.2",
}
#: Where fetched third-party wheels are kept between builds.
WHEELHOUSE = ROOT / "dist" / "wheelhouse"


class BuildError(ValueError):
    """The extension zips cannot be built; the message says why and what to do."""


# ---------------------------------------------------------------------------------------------------
# Third-party wheels


def _pip_platform_args(platform: str, python: str) -> list[str]:
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python]
    for tag in PLATFORMS[platform]:
        args += ["--platform", tag]
    return args


def _pip(args: list[str], what: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env,
                          check=False)
    if done.returncode != 0:
        errors = "\n".join(x for x in done.stderr.splitlines() if "is ignored" not in x)[-3000:]
        raise BuildError(f"{what} failed (pip needs the network the first time; later builds use "
                            f"{WHEELHOUSE}):\n{errors}")
    return done


def _resolve(requirements: list[str], platform: str, python: str, deps: bool) -> list[tuple[str, str, str]]:
    """(name, version, wheel file name) of what pip would install for ``platform``/``python``."""
    with tempfile.TemporaryDirectory(prefix="auth-resolve-") as tmp:
        report = Path(tmp) / "report.json"
        _pip(["install", "-q", "--dry-run", "--ignore-installed", "--target", str(Path(tmp) / "t"),
              "--report", str(report), *([] if deps else ["--no-deps"]),
              *_pip_platform_args(platform, python), *requirements],
             f"resolving the server wheels for {platform} / Python {python}")
        items = json.loads(report.read_text(encoding="utf-8"))["install"]
    return [(i["metadata"]["name"], i["metadata"]["version"],
             unquote(i["download_info"]["url"].rsplit("/", 1)[-1])) for i in items]


def _lock_key(platform: str, python: str) -> str:
    pins = [*SERVER_REQUIREMENTS, f"onnxruntime=={ONNXRUNTIME[(python, platform)]}", *sorted(NOT_BUNDLED),
            *PLATFORMS[platform]]
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()[:16]


def fetch_wheels(platform: str, python: str, wheelhouse: Path = WHEELHOUSE) -> list[Path]:
    """The third-party wheels the server needs on ``platform`` under Python ``python``, numpy excluded.

    The first call resolves (pip's dry-run report) and downloads them into ``wheelhouse``; the list is
    written to a lock file there, so later builds run offline.

    Raises:
        BuildError: if pip cannot resolve or download them (the message carries pip's error).
    """
    if platform not in PLATFORMS or python not in PYTHONS:
        raise BuildError(f"unknown platform/Python {platform}/{python}: one of {sorted(PLATFORMS)} / "
                            f"{PYTHONS}")
    wheelhouse.mkdir(parents=True, exist_ok=True)
    lock = wheelhouse / f"{platform}-cp{python.replace('.', '')}.lock.json"
    key = _lock_key(platform, python)
    try:
        locked = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        locked = {}
    if locked.get("key") == key and all((wheelhouse / n).is_file() for n in locked.get("wheels", [])):
        return [wheelhouse / n for n in locked["wheels"]]
    found = [x for x in _resolve(list(SERVER_REQUIREMENTS), platform, python, deps=True)
             if x[0].lower() not in NOT_BUNDLED]
    found += _resolve([f"onnxruntime=={ONNXRUNTIME[(python, platform)]}"], platform, python, deps=False)
    missing = [f"{n}=={v}" for n, v, f in found if not (wheelhouse / f).is_file()]
    if missing:
        _pip(["download", "-q", "--no-deps", "-d", str(wheelhouse), *_pip_platform_args(platform, python),
              *missing], f"downloading the server wheels for {platform} / Python {python}")
    names = sorted(f for _, _, f in found)
    absent = [n for n in names if not (wheelhouse / n).is_file()]
    if absent:
        raise BuildError(f"pip did not download {absent} for {platform} / Python {python}")
    tmp = lock.with_suffix(".part")
    tmp.write_text(json.dumps({"key": key, "wheels": names}, indent=1), encoding="utf-8")
    os.replace(tmp, lock)
    return [wheelhouse / n for n in names]


# ---------------------------------------------------------------------------------------------------
# Blender's extension tool


def blender_ext_script() -> Path:
    """Blender's extension command-line tool (``bl_pkg/cli/blender_ext.py``) inside the bpy package.

    Raises:
        BuildError: if the bpy package is not installed here.
    """
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for root in roots:
        found = sorted(root.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    raise BuildError("Blender's extension tool (bl_pkg/cli/blender_ext.py) was not found: install the bpy "
                        "package in this Python (scripts/install.sh does)")


def run_blender_ext(args: list[str], what: str) -> str:
    """Run Blender's extension tool with ``args``; return its output.

    Raises:
        BuildError: with the tool's output when it fails.
    """
    done = subprocess.run([sys.executable, str(blender_ext_script()), *args], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise BuildError(f"{what} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def blender_validate(path: Path) -> None:
    """Run Blender's ``validate`` on a built zip (or a source folder).

    Raises:
        BuildError: with Blender's message when the package is invalid.
    """
    run_blender_ext(["validate", str(path)], f"Blender's validate of {path.name}")
