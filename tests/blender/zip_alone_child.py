"""Child script of test_zip_alone.py: a new user's session with nothing but Blender and the extension zip.

Run as ``python [-S] zip_alone_child.py ZIP AUDIO [SITE]`` where SITE (optional) is the only folder of
third-party packages to add (bpy and its dependencies). Prints one ``RESULT {json}`` line. It never
imports anything from the repository: every project module comes from the installed extension.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

if len(sys.argv) > 3:
    sys.path.append(sys.argv[3])  # the bpy-only site folder (.pth files not processed)
ZIP, AUDIO = sys.argv[1], sys.argv[2]
EXT = "bl_ext.user_default.au_talking_head"
INJECT = os.environ.get("ZIP_ALONE_INJECT") == "1"
DIALOG_WAV = os.environ.get("ZIP_ALONE_DIALOG_WAV", "")  # a clip whose text is ZIP_ALONE_DIALOG_TEXT
DIALOG_TEXT = os.environ.get("ZIP_ALONE_DIALOG_TEXT", "")

for name in ("au_contract", "rigs", "model_server", "blender_addon", "fastapi", "onnxruntime", "soundfile"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{name} must not be importable before the zip is installed")

import bpy  # noqa: E402


def dialog_request(url: str, server_pid: int) -> dict:
    """POST the dialog clip with its transcript to the add-on's server (the add-on's own client).

    Returns meta.dialog of the answer and the libespeak-ng files the server process has mapped.
    """
    client = sys.modules[f"{EXT}.server.client"]
    from au_contract.options import RequestOptions  # from the extension's runtime wheel

    with open(DIALOG_WAV, "rb") as f:
        audio = f.read()
    answer = json.loads(client.Client(url).tracks(audio, RequestOptions(transcript=DIALOG_TEXT,
                                                                        language="en-us")))
    with open(f"/proc/{server_pid}/maps", encoding="utf-8") as f:
        mapped = sorted({x.split()[-1] for x in f if "espeak" in x and "/" in x})
    return {"meta": answer["meta"]["dialog"], "espeak_files": mapped}


def all_strips(scene) -> list:
    """Every strip of the scene's sequencer (``sequences_all`` became ``strips_all`` in 5.0)."""
    editor = scene.sequence_editor
    if editor is None:
        return []
    return list(getattr(editor, "strips_all", None) or getattr(editor, "sequences_all", []))


out: dict = {"blender": bpy.app.version_string}
assert bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default",
                                                enable_on_install=True) == {"FINISHED"}
bpy.ops.wm.read_homefile(use_empty=True)
addon = bpy.context.preferences.addons.get(EXT)
assert addon is not None, "the extension is not enabled after install"
out["server_python_pref"] = addon.preferences.server_python
with socket.socket() as sock:  # a free port: never talk to a server someone else started
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
bpy.context.scene.au_talking_head.server_url = f"http://127.0.0.1:{port}"
ops_server = sys.modules[f"{EXT}.operators.bl_server"]
animate = sys.modules[f"{EXT}.operators.bl_animate"]

t0 = time.perf_counter()
assert bpy.ops.au_talking_head.start_server() == {"FINISHED"}
out["server_start_s"] = time.perf_counter() - t0
proc = ops_server._PROCESS
pid = proc.process.pid
out["server_command"] = proc.command
with open(f"/proc/{pid}/environ", "rb") as f:
    environ = dict(x.split(b"=", 1) for x in f.read().split(b"\0") if b"=" in x)
out["server_pythonpath"] = environ.get(b"PYTHONPATH", b"").decode()

try:
    assert bpy.ops.au_talking_head.generate_rig() == {"FINISHED"}
    scene = bpy.context.scene
    rig = scene.au_talking_head.rig
    t0 = time.perf_counter()
    result = bpy.ops.au_talking_head.generate_from_audio(filepath=AUDIO, emotion="NEUTRAL", frame_start=1)
    out["generate_s"] = time.perf_counter() - t0
    out["generate"] = sorted(result)
    out["last_message"] = scene.au_talking_head.last_message
    out["sound_strips"] = [s.name for s in all_strips(scene)]
    values: dict[str, list[float]] = {code: [] for code in ("AU25", "AU26", "AU12", "AU45")}
    for frame in range(1, scene.frame_end + 1):
        scene.frame_set(frame)
        for code in values:
            values[code].append(float(rig[code]))
    out["frames"] = scene.frame_end
    out["au_range"] = {code: max(v) - min(v) for code, v in values.items()}
    layers = sys.modules[f"{EXT}.animation.bl_layers"]
    curves = sys.modules[f"{EXT}.animation.bl_curves"]
    action = layers.lines_action(rig)  # the rig's active action: every line's curves
    out["generated_curves"] = {fc.data_path: len(fc.keyframe_points) for fc in curves.fcurves(action)}
    if DIALOG_WAV:  # dialog mode: espeak-ng must come from the zip, not from this machine
        out["dialog"] = dialog_request(scene.au_talking_head.server_url, pid)

    if INJECT:  # fail each fallible step of a regeneration in turn: the file must stay exactly as it was
        def fingerprint() -> str:
            s = bpy.context.scene
            d: dict = {k: sorted(x.name for x in getattr(bpy.data, k))
                       for k in ("actions", "objects", "sounds", "meshes", "shape_keys")}
            d["frame_end"] = s.frame_end
            d["settings"] = [str(getattr(s.au_talking_head, k)) for k in
                             ("audio_path", "emotion", "strength", "frame_start", "last_message")]
            d["strips"] = sorted((x.name, x.channel, x.frame_start) for x in all_strips(s))
            for act in bpy.data.actions:
                d[act.name] = sorted((fc.data_path, fc.array_index, len(fc.keyframe_points),
                                      tuple(round(v, 6) for k in fc.keyframe_points[:50] for v in k.co))
                                     for fc in curves.fcurves(act))
            ad = rig.animation_data
            d["nla"] = [(t.name, [(x.name, x.action.name if x.action else "", x.frame_start, x.frame_end)
                                  for x in t.strips]) for t in ad.nla_tracks] if ad else []
            return json.dumps(d, sort_keys=True, default=str)

        def raiser(make):  # a stand-in for a step that fails
            def fail(*_args, **_kwargs):
                raise make()
            return fail

        gen = animate.generation
        steps = {
            "server call": (gen, "prepare", raiser(lambda: gen.GenerationError("injected: server failed"))),
            "rig check": (animate, "rig_problem", lambda *_a: "injected: the rig is gone"),
            "writable check": (animate.bl_layers, "check_writable",
                               raiser(lambda: animate.bl_layers.LayerError("injected: not writable"))),
            "sound check": (animate.bl_sound, "speech_problem", raiser(lambda: RuntimeError("injected"))),
            "audio read": (animate.bl_sound, "envelope", raiser(lambda: RuntimeError("injected"))),
            "quality": (animate.quality, "assess", raiser(lambda: RuntimeError("injected"))),
        }
        outcome = {}
        for step, (module, attr, fake) in steps.items():
            before = fingerprint()
            real = getattr(module, attr)
            setattr(module, attr, fake)
            try:
                ret = bpy.ops.au_talking_head.generate_from_audio(filepath=AUDIO, emotion="HAPPINESS",
                                                                  strength=0.7, frame_start=5)
                how = sorted(ret)
            except Exception as exc:  # an unexpected error may surface as an exception: still no write
                how = f"raised {type(exc).__name__}: {str(exc)[:80]}"
            finally:
                setattr(module, attr, real)
            outcome[step] = {"result": how, "unchanged": fingerprint() == before}
        out["inject"] = outcome
        # and the same regeneration without injection does change the file (the fingerprint is sensitive)
        before = fingerprint()
        assert bpy.ops.au_talking_head.generate_from_audio(filepath=AUDIO, emotion="HAPPINESS", strength=0.7,
                                                           frame_start=5) == {"FINISHED"}
        out["control_changed"] = fingerprint() != before
finally:
    assert bpy.ops.au_talking_head.stop_server() == {"FINISHED"}
    for _ in range(100):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.1)
    out["server_gone"] = not os.path.exists(f"/proc/{pid}")
    print("RESULT " + json.dumps(out), flush=True)
