"""A new user with only Blender and the linux-x64 zip: Start Server, Generate Rig, Generate from audio, Stop.

For each Blender the project supports (4.2 LTS, 4.5 LTS, 5.0), a child Python that holds only the
``bpy`` wheel and its own dependencies (no project package, no FastAPI, no onnxruntime, no scipy),
with a temporary HOME, installs the zip, presses Start Server with no preference set (the add-on runs
the bundled server with this same Python and the extension's wheels), generates the rig and the
animation from a real voice (ALSA's Front_Center.wav), checks that the lip-sync curves have keys and
move, sends a clip with its transcript (dialog mode) and checks the transcript was used with the
libespeak-ng of the zip's espeakng-loader wheel (the server process maps no other, although this
machine has the Debian one), stops the server and checks its process is gone.

4.2 and 4.5 run in their own virtual environments (``.venv-bpy42``, ``.venv-bpy45``, made by
scripts/install.sh). 5.0 runs the main venv's Python with ``-S`` and a site folder of links to bpy and
its dependencies only. The bpy 4.2 wheel has no audio (Audaspace): there the generation must warn,
skip the sound strip and still write the curves. On 5.0 a failure is injected at each fallible step of
a regeneration and the file must stay exactly as it was.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.fixtures import SPEECH_TEXT, espeak_wav

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("zip_alone_child.py")
AUDIO = Path("/usr/share/sounds/alsa/Front_Center.wav")
VENVS = {"4.2": ROOT / ".venv-bpy42", "4.5": ROOT / ".venv-bpy45"}

pytestmark = pytest.mark.slow


def bpy_only_site(dest: Path) -> Path:
    """A folder of links to the main venv's bpy and its dependency closure only."""
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir(parents=True)
    todo, seen = ["bpy"], set()
    while todo:
        name = re.split(r"[ ;<>=!~\[(]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        dist = importlib.metadata.distribution(name)
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
        for file in dist.files or []:
            top = Path(str(file)).parts[0]
            if not (dest / top).exists() and (site / top).exists() and not top.endswith(".pth"):
                (dest / top).symlink_to(site / top)
    return dest


def run_child(version: str, zip_path: Path, tmp: Path, inject: bool = False) -> dict:
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "AUTH_", "AU_TALKING", "BLENDER_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), ZIP_ALONE_INJECT="1" if inject else "0", PYTHONNOUSERSITE="1",
               ZIP_ALONE_DIALOG_WAV=str(espeak_wav(tmp / "dialog.wav", SPEECH_TEXT)),
               ZIP_ALONE_DIALOG_TEXT=SPEECH_TEXT)
    if version == "5.0":
        site = bpy_only_site(tmp / "site")
        command = [sys.executable, "-S", str(CHILD), str(zip_path), str(AUDIO), str(site)]
    else:
        python = VENVS[version] / "bin" / "python"
        if not python.exists():
            pytest.skip(f"{python} is missing: scripts/install.sh creates the bpy {version} environment")
        command = [str(python), "-s", str(CHILD), str(zip_path), str(AUDIO)]
    done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=600, check=False)
    log = done.stdout[-4000:] + done.stderr[-4000:]
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert done.returncode == 0 and line, log
    result = json.loads(line[len("RESULT "):])
    result["log"] = log
    return result


def check_dialog(dialog: dict, extension_site: str) -> None:
    """The transcript was used, spoken by the zip's libespeak-ng (espeakng-loader), not the system one."""
    meta, files = dialog["meta"], dialog["espeak_files"]
    assert meta["transcript"] and meta["used"], meta
    assert meta["bilabials"] > 3, meta
    libraries = [f for f in files if "libespeak-ng" in Path(f).name]
    assert libraries, f"the server mapped no libespeak-ng: {files}"
    assert all(f.startswith(extension_site) and "/espeakng_loader/" in f for f in files), (
        f"the server must use the bundled espeak-ng (and its data), not the system one: {files}")


@pytest.mark.parametrize("version", ["4.2", "4.5", "5.0"])
def test_new_user_with_only_the_zip(version: str, addon_zip: Path, tmp_path: Path) -> None:
    if not AUDIO.exists():
        pytest.skip("alsa-utils' Front_Center.wav (a real voice) is missing: scripts/install.sh installs it")
    r = run_child(version, addon_zip, tmp_path, inject=version == "5.0")
    assert r["blender"].startswith(version), r["blender"]
    assert r["server_python_pref"] == "", "no preference may be needed"
    cmd = r["server_command"]
    assert cmd[1:4] == ["-S", "-m", "model_server"], cmd
    extension_site = str(tmp_path / "home")
    assert r["server_pythonpath"].split(os.pathsep)[0].startswith(extension_site), r["server_pythonpath"]
    assert "extensions" in r["server_pythonpath"]
    assert r["generate"] == ["FINISHED"], r["log"]
    keys = r["generated_curves"]
    assert len(keys) >= 24 and keys['["AU25"]'] >= 4 and keys['["AU26"]'] >= 4, keys
    assert r["au_range"]["AU25"] > 0.2 and r["au_range"]["AU26"] > 0.1, r["au_range"]
    if version == "4.2":  # no Audaspace in this wheel: a clear warning, no strip, the curves all the same
        assert r["sound_strips"] == []
        assert "no audio support" in r["last_message"] and "no audio support" in r["log"]
    else:
        assert len(r["sound_strips"]) == 1
    assert r["server_gone"], "Stop Server must end the server process"
    check_dialog(r["dialog"], extension_site)
    print(json.dumps({k: v for k, v in r.items() if k != "log"}))
    print(f"\n[zip-alone] Blender {r['blender']}: bundled server cold start {r['server_start_s']:.1f} s, "
          f"generate {r['generate_s']:.1f} s, {r['frames']} frames")
    if version == "5.0":
        assert r["control_changed"], "the fingerprint must notice a real regeneration"
        failed = {step: o for step, o in r["inject"].items() if not o["unchanged"]}
        assert not failed, f"a failed generation changed the file: {failed}"
        assert all(o["result"] != ["FINISHED"] for o in r["inject"].values()), r["inject"]
