"""Phone timings -> articulatory trajectories -> mouth/blend AU targets (100 Hz), with coarticulation.

Blending (Cohen & Massaro 1993, "Modeling coarticulation in synthetic visual speech"): each phone ``s``
has, per articulatory parameter ``p``, a target ``T[s,p]`` and a dominance function

    D[s,p](t) = alpha[s,p] * exp(-(d(t) / tau[p]) ** C)

where ``d`` is the distance from ``t`` to the phone's core (its middle half; zero inside), ``tau`` is the
anticipation constant before the phone and the (shorter) carry-over constant after it, and ``C = 1.5``.
The trajectory is the dominance-weighted mean ``F[p](t) = sum_s D T / sum_s D``. A strongly dominant
phone (a bilabial's closure, a sibilant's raised jaw) holds its target while weak neighbours bend to it;
a weakly specified one (/h/, /k/ for the lips) takes the shape of its neighbours, and long anticipation
constants (rounding) start a gesture several phones early. A pause's dominance grows with its length.

Bilabials reach full closure: weighted blending alone would leave a /p/ between open vowels half-open,
so every bilabial's closed phase is forced to ``closure = 1`` (lips zero), with 25 ms raised-cosine
ramps. Stops release at the burst (the segment's last ~12 ms); when a pause precedes the stop (its silent
closure is labelled as pause by the engines), the closure starts up to 50 ms earlier.

Articulatory parameters -> contract AUs (au_contract.MODEL_AUS), and why:

* AU26 Jaw Drop = jaw; AU27 Mouth Stretch = the part of jaw above 0.55 (only wide-open vowels).
* AU25 Lips Part = lip separation (0 at rest and in closures; the zone rules gate emotions with it).
* AU24 Lip Pressor = 0.8 closure (the lips press in /p b m/); AU23 Lip Tightener = 0.4 closure +
  0.15 round (narrowed lips); AU17 Chin Raiser = 0.35 closure + 0.25 dental (mentalis pushes the lower lip
  up in closures and labiodentals); AU14 Dimpler = 0.2 closure (corners tighten in /m/).
* AU28 Lip Suck = 0.6 dental (the lower lip rolls in under the upper teeth in /f v/); AU10 Upper Lip
  Raiser = 0.2 dental + 0.25 funnel (the upper lip lifts off the teeth).
* AU18 Lip Pucker = round; AU22 Lip Funneler = 0.9 funnel; AU15 Lip Corner Depressor = 0.1 round.
* AU20 Lip Stretcher = 0.6 spread; AU12 Lip Corner Puller = 0.2 spread; AU06 Cheek Raiser = 0.1 spread
  (spread vowels lift the cheeks a little); AU16 Lower Lip Depressor = 0.35 funnel + 0.25 spread*lips.

Low-amplitude blend-zone values (AU06, AU12, AU14, AU15, AU17, AU10) stay below ~0.35 so that speech
only colours the blend zone and the emotion layer keeps its say there (DESIGN.md §4).
"""

from __future__ import annotations

import numpy as np

from au_contract import MODEL_AUS
from model_server.phonetics import (
    ANTICIPATION_S,
    CARRYOVER_S,
    N_PARAMS,
    PARAMS,
    phone_target,
    split_ipa,
    symbol_shares,
)

FRAME_RATE_HZ = 100.0
_C = 1.5
_RAMP_S = 0.025
_RELEASE_S = 0.012
_PRE_CLOSURE_S = 0.05
_MIN_CLOSURE_S = 0.03
_REST_DOMINANCE = 0.02
_PAUSE_TAU_S = 0.04


def _subsegments(phones: list[str], starts_s: np.ndarray, ends_s: np.ndarray
                 ) -> list[tuple[str, float, float, str]]:
    """Split engine phones into single IPA symbols with times: ``(symbol, start, end, engine_phone)``."""
    out: list[tuple[str, float, float, str]] = []
    for phone, a, b in zip(phones, starts_s, ends_s, strict=True):
        symbols = ["_"] if phone == "_" else (split_ipa(phone) or ["?"])
        t = float(a)
        for sym, share in zip(symbols, symbol_shares(symbols), strict=True):  # diphthongs 55/45
            t1 = t + share * (float(b) - float(a))
            out.append((sym, t, t1, phone))
            t = t1
    return out


def articulation(phones: list[str], starts_s: np.ndarray, ends_s: np.ndarray, n_frames: int,
                 frame_rate_hz: float = FRAME_RATE_HZ) -> np.ndarray:
    """Articulatory trajectories from a phone segmentation.

    Args:
        phones: IPA phone per segment (``"_"`` = pause).
        starts_s: [S] segment starts in seconds. ends_s: [S] segment ends.
        n_frames: number of output frames; frame ``k`` is at time ``k / frame_rate_hz``.

    Returns:
        [n_frames, 7] float32 parameters (order :data:`phonetics.PARAMS`) in [0, 1].
    """
    times = np.arange(n_frames) / frame_rate_hz  # [T]
    num = np.zeros((n_frames, N_PARAMS))
    den = np.full((n_frames, N_PARAMS), _REST_DOMINANCE)
    subs = _subsegments(phones, starts_s, ends_s)
    reach = 4.0 * float(ANTICIPATION_S.max())
    for i, (sym, a, b, _) in enumerate(subs):
        target = phone_target(sym)
        dur = max(b - a, 1e-3)
        alpha = target.dominance
        if target.kind == "pause":
            edge = i == 0 or i == len(subs) - 1  # the clip's edges are rest, however short the pause
            alpha = alpha * (1.0 if edge else min(1.0, dur / 0.25) ** 2)
            core_a, core_b = a, b
        elif target.kind == "bilabial":
            core_a, core_b = a, b
        else:
            core_a, core_b = a + 0.25 * dur, b - 0.25 * dur
        lo = max(0, int(np.floor((a - reach) * frame_rate_hz)))
        hi = min(n_frames, int(np.ceil((b + reach) * frame_rate_hz)) + 1)
        if hi <= lo:
            continue
        t = times[lo:hi, None]  # [W, 1]
        ant, carry = ANTICIPATION_S, CARRYOVER_S
        if target.kind == "pause":  # the rest posture is not anticipated: the mouth relaxes after speech
            ant, carry = np.minimum(ant, _PAUSE_TAU_S), np.minimum(carry, _PAUSE_TAU_S)
        before = np.clip(core_a - t, 0.0, None) / ant  # [W, P]
        after = np.clip(t - core_b, 0.0, None) / carry
        dom = alpha * np.exp(-((before + after) ** _C))  # [W, P]
        num[lo:hi] += dom * target.targets
        den[lo:hi] += dom
    params = num / den
    closure = params[:, PARAMS.index("closure")]
    hard = np.zeros(n_frames)
    for i, (sym, a, b, _) in enumerate(subs):
        if phone_target(sym).kind != "bilabial":
            continue
        start, end = a, b
        if sym in ("p", "b", "ɓ"):
            end = b - min(_RELEASE_S, 0.25 * (b - a))
        if i > 0 and subs[i - 1][0] == "_":
            start = max(subs[i - 1][1], a - _PRE_CLOSURE_S)
        if end - start < _MIN_CLOSURE_S:
            start = end - _MIN_CLOSURE_S
        d = np.maximum(start - times, times - end).clip(0.0, None)  # [T] distance outside the window
        hard = np.maximum(hard, np.where(d < _RAMP_S, 0.5 * (1 + np.cos(np.pi * d / _RAMP_S)), 0.0))
    closure = np.maximum(closure, hard)
    params[:, PARAMS.index("closure")] = closure
    params[:, PARAMS.index("lips")] *= 1.0 - hard  # the blend already narrows the lips near closures
    return np.clip(params, 0.0, 1.0).astype(np.float32)


def params_to_aus(params: np.ndarray) -> np.ndarray:
    """Map articulatory parameters to contract AUs (see the module docstring for the reasoning).

    Args:
        params: [T, 7] articulatory parameters.

    Returns:
        [T, len(MODEL_AUS)] float32 AU intensities in [0, 1], columns in ``MODEL_AUS`` order.
    """
    jaw, lips, rnd, funnel, spread, closure, dental = (params[:, i] for i in range(N_PARAMS))
    values = {
        "AU06": 0.1 * spread,
        "AU10": 0.2 * dental + 0.25 * funnel,
        "AU12": 0.2 * spread,
        "AU14": 0.2 * closure,
        "AU15": 0.1 * rnd,
        "AU16": 0.35 * funnel + 0.25 * spread * lips,
        "AU17": 0.35 * closure + 0.25 * dental,
        "AU18": rnd,
        "AU20": 0.6 * spread,
        "AU22": 0.9 * funnel,
        "AU23": 0.4 * closure + 0.15 * rnd,
        "AU24": 0.8 * closure,
        "AU25": lips,
        "AU26": jaw,
        "AU27": np.clip((jaw - 0.55) / 0.45, 0.0, 1.0),
        "AU28": 0.6 * dental,
    }
    missing = set(MODEL_AUS) - set(values)
    if missing:
        raise RuntimeError(f"coarticulation has no mapping for contract AUs {sorted(missing)}")
    return np.clip(np.stack([values[c] for c in MODEL_AUS], axis=1), 0.0, 1.0).astype(np.float32)


def au_targets(phones: list[str], starts_s: np.ndarray, ends_s: np.ndarray, n_frames: int) -> np.ndarray:
    """AU targets at 100 Hz for a phone segmentation: [n_frames, len(MODEL_AUS)] float32."""
    return params_to_aus(articulation(phones, starts_s, ends_s, n_frames))


def bilabial_windows(phones: list[str], starts_s: np.ndarray, ends_s: np.ndarray
                     ) -> list[tuple[float, float]]:
    """(start, end) seconds of every engine phone that contains a bilabial (for closure recall)."""
    return [(float(a), float(b)) for p, a, b in zip(phones, starts_s, ends_s, strict=True)
            if p != "_" and any(phone_target(s).kind == "bilabial" for s in split_ipa(p))]
