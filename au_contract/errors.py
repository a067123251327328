"""The contract's error root and the machine-readable error codes every part of the product shares.

Every exception the contract package raises derives from :class:`ContractError`:

- :class:`TrackFormatError`: a document does not follow au-tracks/1 (``au_contract.tracks``);
- :class:`OptionsError`: a request option is out of range or malformed (``au_contract.options``);
- ``au_contract.basis.BasisFormatError``: a landmark-basis file is malformed;
- :class:`HealthFormatError`: a ``/v1/health`` answer lacks a field or has the wrong type.

The codes are what the server sends as ``{"error": code, "message": ...}`` (:data:`SERVER_CODES`, with
their HTTP status) and what the add-on's client and the batch renderer match on. The client adds its own
codes for failures that never reach a server (:data:`CLIENT_CODES`). ``docs/api.md`` lists them for people;
``tests/pure/test_contract_errors.py`` checks that every code the server's source can send is declared here.
"""

from __future__ import annotations

# --- codes the server sends: {"error": CODE, "message": ...} -------------------------------------------
EMPTY_BODY = "empty_body"
NOT_AUDIO = "not_audio"
TRUNCATED = "truncated"
CORRUPT_AUDIO = "corrupt_audio"
NO_SAMPLES = "no_samples"
NON_FINITE = "non_finite"
BAD_SAMPLES = "bad_samples"
BAD_SAMPLE_RATE = "bad_sample_rate"
BAD_CHANNELS = "bad_channels"
BAD_PARAMETER = "bad_parameter"
TOO_MANY_FRAMES = "too_many_frames"
BAD_REQUEST = "bad_request"
UNAUTHORIZED = "unauthorized"
BAD_HOST = "bad_host"
BAD_ORIGIN = "bad_origin"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
HTTP_ERROR = "http_error"
BODY_TIMEOUT = "body_timeout"
TOO_LARGE = "too_large"
TOO_LONG = "too_long"
RESPONSE_TOO_LARGE = "response_too_large"
BUSY = "busy"
MODEL_UNAVAILABLE = "model_unavailable"
INTERNAL = "internal"

#: Every code the server may send -> (usual HTTP status, when). ``docs/api.md`` has the same table.
SERVER_CODES: dict[str, tuple[int, str]] = {
    EMPTY_BODY: (400, "no body"),
    NOT_AUDIO: (400, "not a readable audio file"),
    TRUNCATED: (400, "the header promises more data than the file holds"),
    CORRUPT_AUDIO: (400, "the decoder failed in the middle of the data"),
    NO_SAMPLES: (400, "a valid header with no samples"),
    NON_FINITE: (400, "NaN or infinite samples"),
    BAD_SAMPLES: (400, "float data far beyond full scale"),
    BAD_SAMPLE_RATE: (400, "sample rate outside 4 kHz..384 kHz"),
    BAD_CHANNELS: (400, "more than 64 channels"),
    BAD_PARAMETER: (400, "a query parameter out of range, malformed, repeated or unknown"),
    TOO_MANY_FRAMES: (400, "duration x fps is more frames than one request may produce"),
    BAD_REQUEST: (400, "a malformed request (e.g. a Content-Length that is not a number)"),
    UNAUTHORIZED: (401, "missing or wrong token"),
    BAD_HOST: (403, "the Host header is not a loopback name"),
    BAD_ORIGIN: (403, "a cross-site Origin"),
    NOT_FOUND: (404, "wrong path"),
    METHOD_NOT_ALLOWED: (405, "wrong method"),
    HTTP_ERROR: (400, "another HTTP-level error"),
    BODY_TIMEOUT: (408, "the body did not arrive in time"),
    TOO_LARGE: (413, "body over the server's size limit"),
    TOO_LONG: (413, "decoded audio longer than the server's duration limit"),
    RESPONSE_TOO_LARGE: (413, "duration x fps (and landmarks) would make an answer over the size limit"),
    BUSY: (429, "too many requests running and waiting"),
    MODEL_UNAVAILABLE: (503, "the model weights could not be loaded"),
    INTERNAL: (500, "a bug, never bad input"),
}

# --- codes the add-on's client produces itself (no server answer to carry one) ------------------------
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
BAD_URL = "bad_url"
BAD_ANSWER = "bad_answer"
BAD_AUDIO = "bad_audio"

#: Codes of failures found on the client's side -> when.
CLIENT_CODES: dict[str, str] = {
    UNREACHABLE: "nothing answers at the server URL, or the connection was lost",
    TIMEOUT: "the server did not answer in time",
    BAD_URL: "the server URL is not http on a loopback address",
    BAD_ANSWER: "the answer is not the JSON the contract describes",
    BAD_AUDIO: "the audio file is empty (checked before sending)",
    BAD_PARAMETER: "an option is out of range (checked before sending, same message as the server's)",
    TOO_LARGE: "the audio file is larger than the client sends",
}


class ContractError(ValueError):
    """Root of the contract's exceptions: a document, option or data file breaks the contract."""


class TrackFormatError(ContractError):
    """A track set (JSON or arrays) does not follow au-tracks/1; the message says what is wrong."""


class OptionsError(ContractError):
    """A request option is out of range or malformed; the message names it and its accepted range.

    Attributes:
        code: :data:`BAD_PARAMETER`, or :data:`TOO_MANY_FRAMES` for the frame cap.
    """

    def __init__(self, message: str, code: str = BAD_PARAMETER) -> None:
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        """The text the server sends as ``message`` (the same as ``str(exc)``)."""
        return str(self)


class HealthFormatError(ContractError):
    """A ``/v1/health`` answer does not have the contract's fields; the message names the first one."""
