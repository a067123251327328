"""The ``GET /v1/health`` answer, defined once: the server writes it, the add-on and batch read it.

:class:`HealthInfo` lists the fields; :meth:`HealthInfo.to_dict` is what the server sends,
:meth:`HealthInfo.from_dict` what a client reads (unknown extra fields are ignored, so a newer server
can add some). :meth:`HealthInfo.summary` is the one line the add-on's panel shows. Pure module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .action_units import AU_CODES, CONTRACT_VERSION, EMOTIONS
from .errors import HealthFormatError
from .tracks import SCHEMA

STATUS_OK = "ok"
STATUS_DEGRADED = "degraded"


@dataclass(frozen=True)
class HealthInfo:
    """What a running server says about itself.

    Attributes:
        status: ``"ok"`` (the model is loaded) or ``"degraded"`` (``model_error`` says why;
            ``POST /v1/tracks`` answers 503 ``model_unavailable``).
        model_loaded: whether the acoustic model is loaded.
        model_version: the model's version string (None when not loaded).
        device: where the model runs, ``"cpu"`` or ``"cuda"`` (None when not loaded).
        model_error: why the model is not loaded (None when it is).
        server_version: the server package's version.
        schema: the track format it writes (``"au-tracks/1"``).
        contract_version: ``au_contract.CONTRACT_VERSION`` of the server.
        au_codes: the AU channels it writes, in contract order.
        emotions: the emotions it accepts.
        limits: the server's limits (``max_body_bytes``, ``max_duration_s``, ``max_jobs``, ``max_queue``,
            ``max_fps``, ``max_frames``...).
        jobs: current load (``admitted``, ``running``).
    """

    status: str
    model_loaded: bool
    server_version: str
    model_version: str | None = None
    device: str | None = None
    model_error: str | None = None
    schema: str = SCHEMA
    contract_version: int = CONTRACT_VERSION
    au_codes: tuple[str, ...] = AU_CODES
    emotions: tuple[str, ...] = EMOTIONS
    limits: dict[str, float] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object the server sends (lists for tuples)."""
        out = asdict(self)
        out["au_codes"], out["emotions"] = list(self.au_codes), list(self.emotions)
        return out

    @classmethod
    def from_dict(cls, obj: Any) -> HealthInfo:
        """Read a ``/v1/health`` JSON object.

        Raises:
            HealthFormatError: not an object, or a field missing or of the wrong type (the message names it).
        """
        if not isinstance(obj, dict):
            raise HealthFormatError(f"the health answer must be a JSON object, got {type(obj).__name__}")
        values: dict[str, Any] = {}
        for name, kinds, required in _FIELDS:
            if name not in obj:
                if required:
                    raise HealthFormatError(f"the health answer lacks '{name}': is this an AU Talking Head "
                                            "server of another version, or another program on that port?")
                continue
            value = obj[name]
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise HealthFormatError(f"the health answer's '{name}' is {value!r}, expected "
                                        f"{' or '.join(k.__name__ for k in kinds)}")
            values[name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)

    def problem(self) -> str | None:
        """Why the add-on cannot use this server (contract or schema mismatch, no model), or None."""
        if self.contract_version != CONTRACT_VERSION or self.schema != SCHEMA:
            return (f"the server speaks contract v{self.contract_version} ({self.schema}), this add-on "
                    f"v{CONTRACT_VERSION} ({SCHEMA}): install the same version of both")
        if not self.model_loaded:
            return f"the model is not loaded: {self.model_error or 'unknown reason'}"
        return None

    def summary(self) -> str:
        """One line for people: ``"model v10 on cpu"``, or what is wrong."""
        problem = self.problem()
        if problem:
            return f"{self.status}: {problem}"
        return f"model {self.model_version} on {self.device}"


#: (field, accepted JSON types, required) in the order of :class:`HealthInfo`.
_FIELDS: tuple[tuple[str, tuple[type, ...], bool], ...] = (
    ("status", (str,), True),
    ("model_loaded", (bool,), True),
    ("server_version", (str,), True),
    ("model_version", (str, type(None)), False),
    ("device", (str, type(None)), False),
    ("model_error", (str, type(None)), False),
    ("schema", (str,), True),
    ("contract_version", (int,), True),
    ("au_codes", (list,), False),
    ("emotions", (list,), False),
    ("limits", (dict,), False),
    ("jobs", (dict,), False),
)
