"""model_server.espeak: which libespeak-ng serves (the bundled espeakng-loader one, else the system one),
what each speaks (IPA phones with their samples), and that the training corpus keeps the system one."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from model_server import espeak

pytestmark = pytest.mark.pure

BUNDLED = espeak.bundled_source()
SYSTEM_LOADS = Path(espeak.system_source().path).is_file() if espeak.system_source() else False
needs_bundled = pytest.mark.skipif(BUNDLED is None, reason="espeakng-loader is a project dependency "
                                                           "(scripts/install.sh installs it)")
needs_system = pytest.mark.skipif(not SYSTEM_LOADS, reason="libespeak-ng1 is a Debian dependency")


def _fake_loader(folder: Path) -> types.ModuleType:
    (folder / "espeak-ng-data").mkdir(parents=True)
    (folder / "libespeak-ng.so").write_bytes(b"")
    module = types.ModuleType("espeakng_loader")
    module.get_library_path = lambda: str(folder / "libespeak-ng.so")  # type: ignore[attr-defined]
    module.get_data_path = lambda: str(folder / "espeak-ng-data")  # type: ignore[attr-defined]
    return module


def test_auto_prefers_the_bundled_library_when_its_package_is_importable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "espeakng_loader", _fake_loader(tmp_path / "pkg"))
    found = espeak.locate("auto")
    assert found[0] == espeak.LibrarySource("bundled", str(tmp_path / "pkg" / "libespeak-ng.so"),
                                            str(tmp_path / "pkg"))
    assert [s.kind for s in found[1:]] in ([], ["system"])
    assert [s.kind for s in espeak.locate("system")] in ([], ["system"]), "training never gets the bundled"
    assert [s.kind for s in espeak.locate("bundled")] == ["bundled"]
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # not installed: import fails
    assert [s.kind for s in espeak.locate("auto")] in ([], ["system"])
    with pytest.raises(ValueError, match="not one of"):
        espeak.locate("bundeld")


def test_no_library_at_all_says_so_in_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(espeak, "bundled_source", lambda: None)
    monkeypatch.setattr(espeak, "system_source", lambda: None)
    monkeypatch.setattr(espeak, "_SHARED", {})
    monkeypatch.setattr(espeak, "_CHOSEN", {})
    with pytest.raises(espeak.EspeakUnavailableError, match=r"espeak-ng is unavailable: neither the bundled "
                                                            r".* is available on this platform"):
        espeak.shared_library()


def test_a_long_data_path_is_reached_through_a_short_link(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100) / ("e" * 60)
    (deep / "espeak-ng-data").mkdir(parents=True)
    short = espeak.short_data_parent(str(deep))
    if sys.platform == "win32":
        assert short == str(deep)
        return
    assert len(short) < 100 and Path(short, "espeak-ng-data").resolve() == (deep / "espeak-ng-data").resolve()
    assert espeak.short_data_parent(str(tmp_path)) == str(tmp_path), "a short path is used as it is"


@needs_bundled
def test_missing_data_is_an_error_not_an_exit(tmp_path: Path) -> None:
    """espeak_Initialize calls exit(1) without espeakINITIALIZE_DONT_EXIT: that would end the server."""
    code = ("from model_server import espeak\n"
            f"s = espeak.LibrarySource('bundled', {BUNDLED.path!r}, {str(tmp_path)!r})\n"
            "try:\n    espeak.EspeakLibrary(s)\n"
            "except espeak.EspeakUnavailableError as exc:\n    print('RAISED', exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and "RAISED" in done.stdout and "finds no espeak-ng-data" in done.stdout, (
        done.stdout + done.stderr)


def _bilabials(raw: espeak.RawSpeech) -> list[tuple[str, float, float]]:
    return [(p, a / raw.sample_rate, b / raw.sample_rate) for p, a, b in raw.phones if p in ("m", "p", "b")]


@needs_bundled
@pytest.mark.parametrize("voice", ["en", "es"])
def test_the_bundled_library_speaks_ipa_phones_with_their_times(voice: str) -> None:
    lib = espeak.shared_library("bundled")
    assert lib.source.kind == "bundled" and lib.version.startswith("1.52"), lib.version
    assert "espeakng_loader" in lib.source.path and Path(lib.data_path, "phontab").is_file()
    raw = lib.speak("mama papa", voice)
    assert raw.sample_rate == 22050 and 0.4 < raw.audio.size / raw.sample_rate < 1.2
    assert [p for p, _, _ in _bilabials(raw)] == ["m", "m", "p", "p"], raw.phones
    starts = [a for _, a, _ in raw.phones]
    assert starts == sorted(starts) and all(b > a for _, a, b in raw.phones)
    for _, a, b in _bilabials(raw):
        assert 0.02 < b - a < 0.15, (voice, raw.phones)  # a lip closure, in seconds
    vowels = [p for p, _, _ in raw.phones if p not in ("m", "p")]
    assert len(vowels) == 4 and all(v.strip("ˈˌ")[0] in "aɐɑə" for v in vowels), raw.phones


@needs_bundled
@needs_system
def test_the_two_libraries_agree_on_where_the_lips_close() -> None:
    bundled, system = espeak.shared_library("bundled"), espeak.shared_library("system")
    assert bundled is not system and system.version != bundled.version
    for voice in ("en", "es"):
        b, s = _bilabials(bundled.speak("mama papa", voice)), _bilabials(system.speak("mama papa", voice))
        assert [p for p, _, _ in b] == [p for p, _, _ in s]
        assert max(abs(x[1] - y[1]) for x, y in zip(b, s, strict=True)) < 0.02, (b, s)


@needs_system
def test_the_training_corpus_keeps_the_system_library() -> None:
    from model_training.espeak_gen import EspeakEngine

    lib = EspeakEngine()._lib
    assert lib.source.kind == "system" and lib.version.startswith("1.51"), (lib.source, lib.version)
    assert "espeakng_loader" not in lib.data_path



@needs_system
@pytest.mark.parametrize("voice", ["en-us", "es", "it+f3"])
def test_a_stop_starts_where_its_closure_goes_silent(voice: str) -> None:
    """espeak-ng's event for /p/ marks the burst; the quiet closure before it belongs to the /p/ (the lips
    are shut through it), in the server's phones and in the training corpus's timings alike."""
    import numpy as np

    from model_training.espeak_gen import EspeakEngine, EspeakVoice

    text = "la papa, el tapete y la pipa"
    raw = espeak.shared_library("system").speak(text, voice)
    hop = raw.sample_rate // 400
    stops = [(k, a) for k, (p, a, _) in enumerate(raw.phones) if p == "p" and k]
    assert len(stops) >= 4
    quiet = 0
    for k, a in stops:
        assert raw.phones[k - 1][2] == a  # contiguous: the previous phone ends where the closure starts
        closure, before = raw.audio[a:a + 2 * hop], raw.audio[max(0, a - 40 * hop):a]
        quiet += np.sqrt(np.mean(closure ** 2)) < 0.1 * np.sqrt(np.mean(before ** 2)) + 1e-4
    # a closure that is not 30 dB down (a breathy voice's leak) keeps its event's start
    assert quiet >= len(stops) - 1, (voice, quiet, len(stops))
    language, _, variant = voice.partition("+")
    speech = EspeakEngine().synthesize(text, EspeakVoice(language, variant))
    ps = [k for k, p in enumerate(speech.phones) if p == "p"]
    assert len(ps) >= 4
    for k in ps:
        assert speech.phones[k - 1] != "_", (voice, speech.phones)  # the closure is no pause
        assert speech.ends_s[k] - speech.starts_s[k] > 0.03  # closure and burst, not the burst alone
