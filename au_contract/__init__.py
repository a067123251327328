"""The one contract between the model server, the rig and the Blender extension (pure: numpy only).

Everything two parts of the product exchange is defined here, once:

- :mod:`au_contract.action_units`: the Action Unit table (codes, names, zones), emotions and their
  prototypes, the control object's property names;
- :mod:`au_contract.tracks`: the au-tracks/1 document, its writer and its reader (strict and lenient);
- :mod:`au_contract.zone_rules`: the speech/emotion zone rules, one formula evaluated by the server
  (numpy) and written as driver expressions for the rig;
- :mod:`au_contract.options`: the request options (names, defaults, ranges, help) behind the CLI flags,
  the HTTP query, the add-on's client and panel, and the batch renderer;
- :mod:`au_contract.connection`: default address, endpoint paths, token location, environment variables;
- :mod:`au_contract.health`: the ``/v1/health`` answer;
- :mod:`au_contract.errors`: :class:`ContractError` (root of the contract's exceptions) and the error
  codes the server sends;
- :mod:`au_contract.basis`: the landmark-basis file format.

The names of :mod:`au_contract.action_units` are re-exported here (``from au_contract import AU_CODES``).
"""

from __future__ import annotations

from .action_units import (
    ACTION_UNITS,
    AU_BY_CODE,
    AU_CODES,
    BLEND_WEIGHT_DEFAULT,
    BLEND_WEIGHT_PROP,
    CLOSURE_AUS,
    CONTRACT_VERSION,
    CONTROL_MARKER_PROP,
    EMOTION_PROPS,
    EMOTION_PROTOTYPES,
    EMOTIONS,
    MODEL_AUS,
    ONE_SIDED,
    PROSODY_CAP_DEFAULT,
    PROSODY_CAP_PROP,
    UPPER_AUS,
    ActionUnit,
    Zone,
    label,
    zone_of,
)

__all__ = [
    "ACTION_UNITS", "AU_BY_CODE", "AU_CODES", "BLEND_WEIGHT_DEFAULT", "BLEND_WEIGHT_PROP", "CLOSURE_AUS",
    "CONTRACT_VERSION", "CONTROL_MARKER_PROP", "EMOTIONS", "EMOTION_PROPS", "EMOTION_PROTOTYPES",
    "MODEL_AUS", "ONE_SIDED", "PROSODY_CAP_DEFAULT", "PROSODY_CAP_PROP", "UPPER_AUS", "ActionUnit", "Zone",
    "label", "zone_of",
]
