"""The Action Unit contract v1 (DESIGN.md §3): the one table every part of the product reads.

Pure module: no bpy. The model server, the rig generator and the add-on all import it, so an AU's
name, zone and order are defined exactly once.

Zones: ``"M"`` mouth (audio-dominant), ``"U"`` upper face (expression-dominant), ``"B"`` blend zone
(cheeks, lip corners, nasolabial area: a keyframable weighted mix of both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Zone = Literal["M", "U", "B"]

CONTRACT_VERSION = 1


@dataclass(frozen=True)
class ActionUnit:
    """One FACS Action Unit of the contract.

    Attributes:
        code: the property / channel name, e.g. ``"AU12"``.
        name: the FACS name in words, e.g. ``"Lip Corner Puller"``.
        zone: ``"M"``, ``"U"`` or ``"B"``.
        sided: whether the rig has left and right shape keys for it (ARKit has Left/Right shapes).
    """

    code: str
    name: str
    zone: Zone
    sided: bool

    @property
    def label(self) -> str:
        """The Graph Editor name, e.g. ``"AU12 Lip Corner Puller"``."""
        return f"{self.code} {self.name}"


ACTION_UNITS: tuple[ActionUnit, ...] = (
    ActionUnit("AU01", "Inner Brow Raiser", "U", False),
    ActionUnit("AU02", "Outer Brow Raiser", "U", True),
    ActionUnit("AU04", "Brow Lowerer", "U", True),
    ActionUnit("AU05", "Upper Lid Raiser", "U", True),
    ActionUnit("AU06", "Cheek Raiser", "B", True),
    ActionUnit("AU07", "Lid Tightener", "U", True),
    ActionUnit("AU09", "Nose Wrinkler", "U", True),
    ActionUnit("AU10", "Upper Lip Raiser", "B", True),
    ActionUnit("AU12", "Lip Corner Puller", "B", True),
    ActionUnit("AU14", "Dimpler", "B", True),
    ActionUnit("AU15", "Lip Corner Depressor", "B", True),
    ActionUnit("AU16", "Lower Lip Depressor", "M", True),
    ActionUnit("AU17", "Chin Raiser", "M", False),
    ActionUnit("AU18", "Lip Pucker", "M", False),
    ActionUnit("AU20", "Lip Stretcher", "M", True),
    ActionUnit("AU22", "Lip Funneler", "M", False),
    ActionUnit("AU23", "Lip Tightener", "M", False),
    ActionUnit("AU24", "Lip Pressor", "M", True),
    ActionUnit("AU25", "Lips Part", "M", False),
    ActionUnit("AU26", "Jaw Drop", "M", False),
    ActionUnit("AU27", "Mouth Stretch", "M", False),
    ActionUnit("AU28", "Lip Suck", "M", False),
    ActionUnit("AU43", "Eyes Closed", "U", True),
    ActionUnit("AU45", "Blink", "U", True),
)

AU_CODES: tuple[str, ...] = tuple(au.code for au in ACTION_UNITS)
AU_BY_CODE: dict[str, ActionUnit] = {au.code: au for au in ACTION_UNITS}

#: AUs the acoustic model predicts from audio (zones M and B), in model output order.
MODEL_AUS: tuple[str, ...] = tuple(au.code for au in ACTION_UNITS if au.zone in ("M", "B"))
#: AUs the upper-face layer (blinks, prosody) writes.
UPPER_AUS: tuple[str, ...] = tuple(au.code for au in ACTION_UNITS if au.zone == "U")
#: AUs that close the lips; while any is high the zone rules gate an expression's jaw/lip opening.
CLOSURE_AUS: tuple[str, ...] = ("AU23", "AU24", "AU28")

#: Emotion identifiers as the add-on's enum and the server's ``emotion`` parameter spell them.
EMOTIONS: tuple[str, ...] = (
    "NEUTRAL", "HAPPINESS", "SADNESS", "SURPRISE", "FEAR", "ANGER", "DISGUST", "CONTEMPT",
)

#: EMFACS prototypes (DESIGN.md §3) with intensities at strength 1.0. Contempt is one-sided: see
#: ``ONE_SIDED``. Values are the AU intensity each emotion contributes, in [0, 1].
#:
#: Strength 1.0 is a full, unmistakable expression (what an animator expects from "happiness" at 1): the
#: defining AUs sit at 0.9-1.0, the supporting ones lower (sadness's AU04 only knits the raised inner brows;
#: fear's AU07/AU26 are traces). Blend-zone AUs (AU06, AU10, AU12, AU14, AU15) are further scaled by the blend
#: weight (``BLEND_WEIGHT_DEFAULT``) on the rig. ``tests/pure/test_rig_emotions.py`` pins what each emotion
#: must show on the default head in millimetres (e.g. happiness raises the mouth corners >= 7 mm).
EMOTION_PROTOTYPES: dict[str, dict[str, float]] = {
    "NEUTRAL": {},
    "HAPPINESS": {"AU06": 0.9, "AU12": 1.0},
    "SADNESS": {"AU01": 0.9, "AU04": 0.4, "AU15": 1.0},
    "SURPRISE": {"AU01": 0.9, "AU02": 0.9, "AU05": 0.8, "AU26": 0.6},
    "FEAR": {"AU01": 0.8, "AU02": 0.6, "AU04": 0.5, "AU05": 0.9, "AU07": 0.3, "AU20": 0.7, "AU26": 0.35},
    "ANGER": {"AU04": 1.0, "AU05": 0.5, "AU07": 0.7, "AU23": 0.7},
    "DISGUST": {"AU09": 0.9, "AU10": 1.0, "AU15": 0.5, "AU16": 0.3},
    "CONTEMPT": {"AU12": 0.7, "AU14": 0.9},
}
#: Emotions whose prototype applies to one side of the face only ("L" = the character's left).
ONE_SIDED: dict[str, str] = {"CONTEMPT": "L"}


def label(code: str) -> str:
    """Return the Graph Editor label of an AU code, e.g. ``label("AU12") == "AU12 Lip Corner Puller"``.

    Raises:
        KeyError: if ``code`` is not an AU of the contract.
    """
    return AU_BY_CODE[code].label


def zone_of(code: str) -> Zone:
    """Return the zone (``"M"``, ``"U"`` or ``"B"``) of an AU code."""
    return AU_BY_CODE[code].zone


# --- The control object (DESIGN.md §4): what the rig's control object carries besides the AU props. ---

#: Custom property per emotion on the control object (0..1, keyframable): how much the face is coloured
#: by that emotion. The zone rules add ``strength * prototype`` to the AU values that drive shape keys.
EMOTION_PROPS: dict[str, str] = {e: f"emotion_{e.lower()}" for e in EMOTIONS if e != "NEUTRAL"}
#: Keyframable weight (0..1) of expression vs speech in the blend zone (0 = speech only, 1 = expression
#: only). Default 0.8: at 0.5 every emotion's smile, frown or sneer showed at half its prototype (a barely
#: visible smile at strength 1); 0.8 lets the emotion dominate the cheeks and lip corners, as an animator
#: expects, while speech keeps a fifth of its say there (its corner pulls for /i/, /w/ stay visible). The
#: mouth zone keeps audio priority whatever this weight. The server mixes emotions with this default
#: (``zone_rules.evaluate_rules``), so its tracks match a fresh rig.
BLEND_WEIGHT_PROP = "zone_blend_weight"
BLEND_WEIGHT_DEFAULT = 0.8
#: Cap (0..1) on what audio prosody may add to an upper-face AU on top of the chosen emotion.
PROSODY_CAP_PROP = "zone_prosody_cap"
PROSODY_CAP_DEFAULT = 0.35
#: Custom property that marks an object as an AU Talking Head control object (value: contract version).
CONTROL_MARKER_PROP = "au_talking_head_control"
