"""Upper-face layer: blinks (AU45, long closures AU43) and prosody brow raises (AU01/AU02), seeded.

Blink statistics follow the literature on spontaneous blinking (Bentivoglio et al. 1997, Mov. Disord.
12:1028; Doughty 2001): about 20-26 blinks per minute while talking, fewer (~17) at rest; inter-blink
intervals are right-skewed (a gamma renewal process with a refractory minimum models them well);
a blink lasts about 100-400 ms with a fast closing and a slower opening phase; blinks cluster at
phrase boundaries (pauses after speech), and a few are doubles. Rare long, slow closures at a boundary
go to AU43 (Eyes Closed) rather than AU45.

Brow raises accompany pitch accents (Cavé et al. 1996; Flecha-García 2010): not every accent, more
likely on strong ones, starting slightly before the pitch peak. Their amplitude is capped by
``au_contract.PROSODY_CAP_DEFAULT`` so prosody never overrides the chosen emotion.

The layer plans events (onset, peak, end, amplitude) and renders them at any frame times: blinks are
rendered straight at the scene frame rate with their closing peak snapped to a frame, so a 150 ms blink
still closes the eyes fully at 24 fps (low-passing a 100 Hz blink before resampling would not).

Everything is deterministic for a given seed: blinks and brow raises draw from separate child streams
of ``numpy.random.SeedSequence(seed)``, so turning prosody off does not move the blinks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from au_contract import PROSODY_CAP_DEFAULT, UPPER_AUS

from . import prosody

RATE = prosody.FRAME_RATE  # 100 Hz


@dataclass
class BlinkStats:
    """Parameters of the blink process (times in seconds).

    Attributes:
        mean_interval_speech_s: mean inter-blink interval while speaking (60/mean = blinks per minute).
        mean_interval_rest_s: mean interval in silence.
        gamma_shape: shape of the gamma interval distribution (2 = right-skewed, not memoryless).
        refractory_s: shortest interval between two blinks.
        boundary_probability: chance of a blink shortly after a phrase boundary.
        double_probability: chance a blink is followed by a second one 0.25-0.4 s later.
        long_closure_probability: chance a boundary blink is a slow closure (AU43).
        duration_median_s: median blink duration (lognormal).
        duration_sigma: lognormal sigma of the duration.
    """

    mean_interval_speech_s: float = 2.6
    mean_interval_rest_s: float = 3.6
    gamma_shape: float = 2.0
    refractory_s: float = 0.6
    boundary_probability: float = 0.55
    double_probability: float = 0.07
    long_closure_probability: float = 0.08
    duration_median_s: float = 0.2
    duration_sigma: float = 0.25


@dataclass
class UpperFaceOptions:
    """Options of the upper-face layer.

    Attributes:
        seed: random seed (same seed + same audio = same tracks).
        blinks: add blinks (AU45/AU43).
        prosody: add brow raises (AU01/AU02) on pitch accents.
        brow_cap: largest AU value a brow raise may reach.
        stats: blink statistics.
    """

    seed: int = 0
    blinks: bool = True
    prosody: bool = True
    brow_cap: float = PROSODY_CAP_DEFAULT
    stats: BlinkStats = field(default_factory=BlinkStats)


@dataclass(frozen=True)
class Event:
    """One upper-face gesture.

    Attributes:
        kind: ``"blink"`` (AU45), ``"closure"`` (AU43) or ``"brow"`` (AU01, AU02 at 0.8x).
        start_s: onset time in seconds.
        peak_s: time of the maximum (closing end / end of the rise).
        end_s: time it is back to 0.
        amplitude: maximum AU value in [0, 1].
        hold_s: time spent at the maximum after ``peak_s`` (brows only).
    """

    kind: str
    start_s: float
    peak_s: float
    end_s: float
    amplitude: float
    hold_s: float = 0.0


_TARGETS: dict[str, tuple[tuple[str, float], ...]] = {
    "blink": (("AU45", 1.0),), "closure": (("AU43", 1.0),), "brow": (("AU01", 1.0), ("AU02", 0.8)),
}


@dataclass
class UpperFaceResult:
    """Output of the layer.

    Attributes:
        events: every blink, long closure and brow raise, in time order.
    """

    events: list[Event]

    @property
    def blink_times_s(self) -> list[float]:
        """Onsets of blinks and long closures."""
        return [e.start_s for e in self.events if e.kind in ("blink", "closure")]

    @property
    def accent_times_s(self) -> list[float]:
        """Onsets of brow raises."""
        return [e.start_s for e in self.events if e.kind == "brow"]

    def render(self, times_s: np.ndarray, snap_fps: float | None = None) -> dict[str, np.ndarray]:
        """Sample the events at given times.

        Args:
            times_s: float [F] frame times in seconds (ascending).
            snap_fps: when set, each blink is shifted (by at most half a frame) so its closing peak
                lands exactly on a frame of that rate and the eyes close fully.

        Returns:
            Every UPPER_AUS code -> float32 [F] in [0, 1] (unused ones are zeros).
        """
        channels = {code: np.zeros(times_s.size, np.float32) for code in UPPER_AUS}
        for ev in self.events:
            shift = 0.0
            if snap_fps and ev.kind != "brow":
                shift = round(ev.peak_s * snap_fps) / snap_fps - ev.peak_s
            t = times_s - shift
            lo, hi = int(np.searchsorted(t, ev.start_s)), int(np.searchsorted(t, ev.end_s))
            if hi <= lo:
                continue
            shape = _shape(ev, t[lo:hi])
            for code, gain in _TARGETS[ev.kind]:
                np.maximum(channels[code][lo:hi], gain * shape, out=channels[code][lo:hi])
        return channels


def _shape(ev: Event, t: np.ndarray) -> np.ndarray:
    """Continuous event profile at times ``t`` (inside [start, end)), float32."""
    rise = np.clip((t - ev.start_s) / max(ev.peak_s - ev.start_s, 1e-6), 0.0, 1.0)
    fall_start = ev.peak_s + ev.hold_s
    fall = np.clip((t - fall_start) / max(ev.end_s - fall_start, 1e-6), 0.0, 1.0)
    if ev.kind == "brow":
        up = 0.5 - 0.5 * np.cos(np.pi * rise)
        down = 0.5 + 0.5 * np.cos(np.pi * fall)
    else:
        up = rise * rise * (3.0 - 2.0 * rise)  # smooth, fast closing
        down = (1.0 - fall) ** 2  # opening: quick start, slow finish
    value = np.where(t < ev.peak_s, up, np.where(t < fall_start, 1.0, down))
    return (ev.amplitude * value).astype(np.float32)


def _blink(start_s: float, duration_s: float, amplitude: float, long: bool = False) -> Event:
    return Event("closure" if long else "blink", start_s, start_s + 0.35 * duration_s,
                 start_s + duration_s, amplitude)


def blink_events(duration_s: float, speech: np.ndarray, boundaries: np.ndarray,
                 rng: np.random.Generator, stats: BlinkStats) -> list[Event]:
    """Blinks and long closures for an utterance.

    Args:
        duration_s: clip duration in seconds.
        speech: bool [T] speech activity at 100 Hz (sets the local blink rate).
        boundaries: int [B] 100 Hz frames where a pause begins (blink more there).
        rng: random generator (seeded by the caller).
        stats: blink statistics.

    Returns:
        Events in time order, none closer than the refractory interval, all ending inside the clip.
    """
    forced = [float(b) / RATE + float(rng.uniform(0.05, 0.2)) for b in sorted(boundaries)
              if rng.random() < stats.boundary_probability]
    t = float(rng.uniform(0.3, 1.5))  # the first blink: not at frame 0, not much later than usual
    planned: list[tuple[float, bool]] = []
    fi = 0
    while t < duration_s:
        while planned and fi < len(forced) and forced[fi] < planned[-1][0] + stats.refractory_s:
            fi += 1  # a boundary right after a blink: that blink already served it
        if fi < len(forced) and forced[fi] <= t:  # a boundary blink resets the renewal process
            t = forced[fi]
            fi += 1
            planned.append((t, rng.random() < stats.long_closure_probability))
        else:
            planned.append((t, False))
        frame = min(int(t * RATE), speech.size - 1)
        mean = stats.mean_interval_speech_s if speech.size and speech[frame] else stats.mean_interval_rest_s
        t += max(stats.refractory_s, float(rng.gamma(stats.gamma_shape, mean / stats.gamma_shape)))
    events: list[Event] = []
    last_end = -10.0
    for t, long in planned:
        if long:
            ev = _blink(t, float(rng.uniform(0.45, 0.8)), float(rng.uniform(0.9, 1.0)), long=True)
        else:
            dur = float(np.clip(stats.duration_median_s * np.exp(rng.normal(0, stats.duration_sigma)),
                                0.1, 0.4))
            ev = _blink(t, dur, float(rng.uniform(0.85, 1.0)))
        if t < last_end + 0.1 or ev.end_s > duration_s:
            continue
        events.append(ev)
        last_end = ev.end_s
        if not long and rng.random() < stats.double_probability:
            second = _blink(ev.end_s + float(rng.uniform(0.05, 0.15)), ev.end_s - ev.start_s, ev.amplitude)
            if second.end_s <= duration_s:
                events.append(second)
                last_end = second.end_s
    return events


def brow_events(accents: np.ndarray, strengths: np.ndarray, rng: np.random.Generator,
                cap: float) -> list[Event]:
    """Brow raises on pitch accents: more likely and higher on strong accents, at most ``cap``.

    Args:
        accents: int [A] accent peak frames (100 Hz).
        strengths: float [A] accent strengths in [0, 1].
        rng: random generator.
        cap: largest value a raise reaches.

    Returns:
        Brow events in time order.
    """
    events: list[Event] = []
    for frame, strength in zip(accents, strengths, strict=True):
        if rng.random() > 0.3 + 0.6 * float(strength):
            continue
        amp = cap * (0.45 + 0.55 * float(strength)) * float(rng.uniform(0.8, 1.0))
        peak = max(0.12, float(frame) / RATE - 0.04)  # the brows lead the pitch peak slightly
        hold, fall = float(rng.uniform(0.06, 0.15)), float(rng.uniform(0.25, 0.45))
        events.append(Event("brow", peak - 0.12, peak, peak + hold + fall, min(cap, amp), hold))
    return events


def upper_face(samples: np.ndarray, n_frames: int, options: UpperFaceOptions,
               track: prosody.ProsodyTrack | None = None) -> UpperFaceResult:
    """Plan the upper-face events of one utterance.

    Args:
        samples: float32 [N] mono 16 kHz audio.
        n_frames: T, the number of 100 Hz frames (the clip's duration is ``T / 100`` s).
        options: seed and switches.
        track: precomputed prosody analysis, or None to analyse ``samples`` here.

    Returns:
        The events; call :meth:`UpperFaceResult.render` to get tracks at any frame rate.
    """
    if track is None:
        track = prosody.analyse(samples, n_frames)
    blink_seq, brow_seq = np.random.SeedSequence(int(options.seed) & 0xFFFFFFFFFFFFFFFF).spawn(2)
    events: list[Event] = []
    if options.blinks and n_frames > 0:
        events += blink_events(n_frames / RATE, track.speech, prosody.phrase_boundaries(track.speech),
                               np.random.default_rng(blink_seq), options.stats)
    if options.prosody and n_frames > 0:
        frames, strengths = prosody.pitch_accents(track)
        events += brow_events(frames, strengths, np.random.default_rng(brow_seq),
                              float(np.clip(options.brow_cap, 0.0, 1.0)))
    events.sort(key=lambda e: e.start_s)
    return UpperFaceResult(events=events)
