"""The development set's pauses checked against the recording (``model_training.devset``).

Two model-independent checks of the reference aligner's pauses, from 10 ms frame levels only:
:func:`pauses_quiet` drops a clip whose scored pause holds speech throughout (a reworded prompt), and
:func:`quiet_pauses` shrinks a pause that holds a word the aligner left out of it.
"""

from __future__ import annotations

import numpy as np

from model_server.dtw_align import runs
from model_server.features import SAMPLE_RATE
from model_training import metrics
from model_training.timing import PAUSE


def _levels(audio: np.ndarray) -> np.ndarray:
    """[n] dB level of each 10 ms frame."""
    hop = SAMPLE_RATE // int(metrics.FRAME_RATE_HZ)
    n = len(audio) // hop
    frames = audio[:n * hop].reshape(n, hop).astype(np.float64)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10)


#: An aligned pause of the metrics' length (>= 250 ms) whose median 10 ms frame level lies more than this
#: many dB above the clip's noise floor (its 5th-percentile frame) holds speech: the transcript does not
#: match the recording there (a reworded prompt), so the clip's reference is wrong and it is dropped.
PAUSE_ABOVE_FLOOR_DB = 10.0


def pauses_quiet(audio: np.ndarray, phones: list[str], starts_s: np.ndarray, ends_s: np.ndarray) -> bool:
    """Whether every aligned pause the viewer metrics score sits near the recording's noise floor (see
    :data:`PAUSE_ABOVE_FLOOR_DB`; looks at the audio and the alignment only, never at a model)."""
    level = _levels(audio)
    n = len(level)
    if n == 0:
        return True
    floor = float(np.percentile(level, 5))
    kinds = ["pause" if p == PAUSE else "phone" for p in phones]
    return all(float(np.median(level[lo:hi])) <= floor + PAUSE_ABOVE_FLOOR_DB
               for lo, hi in metrics.scored_pauses(kinds, starts_s, ends_s, n))


#: A 10 ms frame this close to the clip's loud level (its 95th-percentile frame) or closer is speech ...
LOUD_BELOW_PEAK_DB = 25.0
#: ... and a run of at least this many such frames inside an aligned pause is speech the aligner put there.
LOUD_RUN_FRAMES = 3


def quiet_pauses(audio: np.ndarray, phones: list[str], starts_s: np.ndarray, ends_s: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The reference's segment times with every aligned pause shrunk to its longest stretch without speech
    (runs of :data:`LOUD_RUN_FRAMES` frames within :data:`LOUD_BELOW_PEAK_DB` of the loud level): the part
    before it goes to the phone before the pause, the part after it to the phone after (the clip's leading
    silence ends where its first speech starts, its trailing silence starts after its last). pocketsphinx
    inserts its optional silences where its English models fit worst, and a quarter of the scored pause
    frames of the session-16 set lay within 25 dB of the speaking level: words the speaker said (Allison's
    "carpeta, tres" put the t before a pause that holds "tres"), or a recording's loud hum. Looks at the
    audio and the alignment only, never at a model."""
    level = _levels(audio)
    n = len(level)
    starts, ends = np.array(starts_s, np.float64), np.array(ends_s, np.float64)
    if n == 0:
        return starts, ends
    loud = level >= float(np.percentile(level, 95)) - LOUD_BELOW_PEAK_DB
    hz = metrics.FRAME_RATE_HZ
    for j, p in enumerate(phones):
        lo, hi = int(np.ceil(starts[j] * hz)), min(n, int(np.floor(ends[j] * hz)))
        if p != PAUSE or hi - lo < LOUD_RUN_FRAMES:
            continue
        speech = _runs(loud[lo:hi], LOUD_RUN_FRAMES)
        if not speech.any():
            continue
        loud_at = np.flatnonzero(speech)  # frames of the pause, relative to lo
        if j == 0:  # the clip's leading silence ends where the speech starts
            q0, q1 = 0, int(loud_at[0])
        elif j + 1 == len(phones):  # its trailing silence starts where the speech ends
            q0, q1 = int(loud_at[-1]) + 1, hi - lo
        else:
            q0, q1 = _longest_run(~speech)
        if j > 0:
            starts[j] = ends[j - 1] = (lo + q0) / hz
        if j + 1 < len(phones):
            ends[j] = starts[j + 1] = (lo + q1) / hz
    return starts, ends


def _runs(mask: np.ndarray, least: int) -> np.ndarray:
    """``mask`` with its runs of True shorter than ``least`` frames cleared."""
    out = np.zeros_like(mask)
    for a, b in runs(mask):
        out[a:b] = b - a >= least
    return out


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """[a, b) of the longest run of True in ``mask`` ((k, k) at the middle when there is none)."""
    found = runs(mask)
    if not found:
        return len(mask) // 2, len(mask) // 2
    return max(found, key=lambda run: run[1] - run[0])


__all__ = ["LOUD_BELOW_PEAK_DB", "LOUD_RUN_FRAMES", "PAUSE_ABOVE_FLOOR_DB", "pauses_quiet", "quiet_pauses"]
