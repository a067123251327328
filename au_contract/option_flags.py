"""The request options' outer forms: command-line flags, the HTTP query string, the OpenAPI schema.

Everything here is generated from :data:`au_contract.options.SPECS` and checks values with
:func:`au_contract.options.check_value`, so a bad value gets the same message on every path. Free-text
options the command line reads from a file (:data:`au_contract.options.FILE_OPTIONS`: ``--transcript-file``)
are read as strict UTF-8 by :func:`read_text_file`.

Pure module (standard library only).
"""

from __future__ import annotations

import argparse
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import OptionsError
from .options import FILE_OPTIONS, SPECS, OptionsT, check_value


def read_text_file(name: str, path: str | Path) -> str:
    """Read free-text option ``name`` (``--transcript-file``) from a UTF-8 file and check it.

    Raises:
        OptionsError: the file is unreadable, not UTF-8, or too long.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise OptionsError(f"cannot read the {name} file {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OptionsError(f"the {name} file {path} is not UTF-8 text (byte {exc.start}): save it as "
                           f"UTF-8") from None
    return str(check_value(name, text))



def argparse_type(name: str) -> Any:
    """An argparse ``type=`` callable that checks option ``name`` with the contract's message."""
    def parse(text: str) -> Any:
        try:
            return check_value(name, text)
        except OptionsError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def add_arguments(parser: argparse.ArgumentParser, names: Iterable[str] | None = None,
                  defaults: Mapping[str, Any] | None = None,
                  default_help: Mapping[str, str] | None = None) -> None:
    """Add one flag per option: ``--fps 25``, ``--emotion sadness``, ``--no-blinks`` for switches.

    Args:
        parser: where to add them.
        names: which options (default: all, in :data:`SPECS` order).
        defaults: per-option default other than the contract's (e.g. ``{"fps": None}`` = "keep the
            scene's"); the contract's default otherwise.
        default_help: what an overridden default means, per option (``{"fps": "the .blend's own"}``).
    """
    defaults = defaults or {}
    default_help = default_help or {}
    for name in names or SPECS:
        spec = SPECS[name]
        default = defaults.get(name, spec.default)
        if name in FILE_OPTIONS:
            parser.add_argument(f"--{name}-file", dest=f"{name}_file", type=Path, default=None,
                                metavar=f"{name.upper()}.txt", help=f"{spec.help}: a UTF-8 text file; "
                                f"{spec.range_text}")
            continue
        if spec.kind is bool and default:
            parser.add_argument(f"--no-{name}", dest=name, action="store_false", default=default,
                                help=f"do not {spec.help}")
            continue
        if spec.kind is bool:  # off unless asked for
            parser.add_argument(f"--{name}", dest=name, action="store_true", default=default, help=spec.help)
            continue
        accepted = f"one of {', '.join(spec.choices)}" if spec.choices else spec.range_text
        parser.add_argument(f"--{name}", type=argparse_type(name), default=default, metavar=name.upper(),
                            help=f"{spec.help}; {accepted} (default: {default_help.get(name, default)})")


def options_from_namespace(args: argparse.Namespace, cls: type[OptionsT], **extra: Any) -> OptionsT:
    """Build and validate options of class ``cls`` from parsed :func:`add_arguments` flags.

    Args:
        args: the parsed flags.
        cls: :class:`RequestOptions` or a subclass (the server's ``PredictOptions``).
        extra: values of the subclass's own fields.

    Raises:
        OptionsError: a bad value (flags parsed with :func:`argparse_type` are already checked).
    """
    values = {name: getattr(args, name) for name in SPECS if getattr(args, name, None) is not None}
    for name in FILE_OPTIONS:
        path = getattr(args, f"{name}_file", None)
        if path is not None:
            values[name] = read_text_file(name, path)
    out = cls(**values, **extra).validated()
    assert isinstance(out, cls)
    return out


# --- HTTP ------------------------------------------------------------------------------------------------

def parse_query(raw: bytes) -> list[tuple[str, str]]:
    """The (name, text) pairs of a raw query string, percent-decoded as strict UTF-8 (a transcript that is
    not UTF-8 is refused, not silently mangled into replacement characters).

    Raises:
        OptionsError: code ``bad_parameter`` when a value is not UTF-8.
    """
    try:
        return urllib.parse.parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise OptionsError(f"the query string is not UTF-8 (byte {exc.start} of a value): percent-encode "
                           f"text as UTF-8") from None


def openapi_parameters() -> list[dict[str, Any]]:
    """The options as OpenAPI query parameters (the server's schema is generated from :data:`SPECS`)."""
    out = []
    for spec in SPECS.values():
        schema: dict[str, Any] = {"type": {bool: "boolean", int: "integer", float: "number",
                                           str: "string"}[spec.kind], "default": spec.default}
        if spec.minimum is not None:
            schema.update(minimum=spec.minimum, maximum=spec.maximum)
        if spec.choices:
            schema["enum"] = list(spec.choices)
        if spec.max_bytes:
            schema["maxLength"] = spec.max_bytes
        if spec.pattern:
            schema["pattern"] = f"^{spec.pattern}$"
        out.append({"name": spec.name, "in": "query", "required": False, "schema": schema,
                    "description": spec.help})
    return out


__all__ = ["add_arguments", "argparse_type", "openapi_parameters", "options_from_namespace", "parse_query",
           "read_text_file"]
