"""Error codes, exception roots, connection constants and the health answer: each defined once in the
contract, and every code the server's source can send is declared there (and in docs/api.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from au_contract import CONTRACT_VERSION, connection, errors
from au_contract.basis import BasisFormatError
from au_contract.errors import ContractError, HealthFormatError, OptionsError, TrackFormatError
from au_contract.health import HealthInfo
from au_contract.tracks import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"^[a-z]+(_[a-z]+)*$")
#: Calls whose string arguments are error codes: AudioError(code, msg), ApiError(status, code, msg),
#: error(status, code, msg) and OptionsError(msg, code=...).
CODE_CALLS = {"AudioError", "ApiError", "error", "OptionsError"}


def _codes_in(source: str) -> set[str]:
    found: set[str] = set()

    def strings(nodes: list[ast.expr]) -> set[str]:
        return {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)
                and CODE.match(n.value)}

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in CODE_CALLS:
                found |= strings(node.args[:2]) | strings([k.value for k in node.keywords if k.arg == "code"])
            func = node.func
            if name == "get" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Dict):
                found |= strings(func.value.values) | strings(node.args[1:])  # {404: "not_found"}.get(...)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "problem"
                                                for t in node.targets) and isinstance(node.value, ast.Tuple):
            found |= strings(node.value.elts[:1])  # HostGuard's (code, message)
    return found


def test_every_code_the_server_can_send_is_declared_in_the_contract() -> None:
    sent: set[str] = set()
    for path in sorted((ROOT / "model_server").glob("*.py")):
        sent |= _codes_in(path.read_text(encoding="utf-8"))
    assert {"not_audio", "bad_host", "busy", "not_found", "http_error"} <= sent, "the scan finds the codes"
    undeclared = sent - set(errors.SERVER_CODES)
    assert not undeclared, f"codes sent but not in au_contract.errors.SERVER_CODES: {sorted(undeclared)}"
    constants = {v for k, v in vars(errors).items() if k.isupper() and isinstance(v, str)}
    assert set(errors.SERVER_CODES) | set(errors.CLIENT_CODES) == constants


def test_docs_list_every_server_code() -> None:
    docs = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = docs[docs.index("## Errors"):]
    listed = set(re.findall(r"`([a-z_]+)`", table[: table.index("\n## ")] if "\n## " in table else table))
    missing = set(errors.SERVER_CODES) - listed
    assert not missing, f"docs/api.md's error table lacks {sorted(missing)}"


def test_one_exception_root() -> None:
    for exc in (TrackFormatError, OptionsError, BasisFormatError, HealthFormatError):
        assert issubclass(exc, ContractError), exc
    assert issubclass(ContractError, ValueError)
    err = OptionsError("fps must be ...")
    assert err.code == errors.BAD_PARAMETER and err.message == "fps must be ..."
    # one TrackFormatError in the product: no other module defines a class of that name
    packages = ("au_contract", "model_server", "blender_addon", "batch_render", "rigs")
    defined = [p.relative_to(ROOT) for package in packages for p in (ROOT / package).rglob("*.py")
               if "class TrackFormatError" in p.read_text("utf-8")]
    assert defined == [Path("au_contract/errors.py")]


def test_connection_constants(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert connection.DEFAULT_URL == "http://127.0.0.1:8765"
    assert connection.server_url("::1", 9) == "http://[::1]:9"
    assert connection.is_loopback_host("LOCALHOST") and not connection.is_loopback_host("example.com")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert connection.token_path() == tmp_path / "au-talking-head" / "token"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # the XDG spec says: ignore a relative path
    assert connection.token_path() == Path.home() / ".config" / "au-talking-head" / "token"
    # the server and the add-on use the contract's, not copies
    from blender_addon.server import client, launch
    from model_server import auth

    assert auth.token_path is connection.token_path and client.token_path is connection.token_path
    assert auth.TOKEN_ENV == client.TOKEN_ENV == connection.TOKEN_ENV == "AU_TALKING_HEAD_TOKEN"
    assert launch.PYTHON_ENV == connection.PYTHON_ENV == "AU_TALKING_HEAD_PYTHON"
    assert auth.LOOPBACK_HOSTS is connection.LOOPBACK_HOSTS


def _health(**changes: object) -> dict:
    info = HealthInfo(status="ok", model_loaded=True, server_version="0.2.0", model_version="v10-abc",
                      device="cpu", limits={"max_jobs": 2}, jobs={"running": 0}).to_dict()
    info.update(changes)
    return info


def test_health_round_trip_and_summary() -> None:
    info = HealthInfo.from_dict({**_health(), "something_new": 1})  # a newer server's extra field is fine
    assert info.model_version == "v10-abc" and info.schema == SCHEMA
    assert info.contract_version == CONTRACT_VERSION
    assert HealthInfo.from_dict(info.to_dict()) == info
    assert info.problem() is None and info.summary() == "model v10-abc on cpu"
    down = HealthInfo.from_dict(_health(status="degraded", model_loaded=False, model_version=None,
                                        device=None, model_error="weights missing"))
    assert down.summary() == "degraded: the model is not loaded: weights missing"
    other = HealthInfo.from_dict(_health(contract_version=CONTRACT_VERSION + 1))
    assert "install the same version of both" in other.summary()


@pytest.mark.parametrize("changes, words", [
    ({"model_loaded": "yes"}, "'model_loaded' is 'yes', expected bool"),
    ({"contract_version": True}, "'contract_version' is True, expected int"),
    ({"au_codes": "AU01"}, "'au_codes'"),
])
def test_health_rejects_wrong_types(changes: dict, words: str) -> None:
    with pytest.raises(HealthFormatError, match=re.escape(words)):
        HealthInfo.from_dict(_health(**changes))
    with pytest.raises(HealthFormatError, match="lacks 'server_version'"):
        HealthInfo.from_dict({k: v for k, v in _health().items() if k != "server_version"})
    with pytest.raises(HealthFormatError, match="must be a JSON object"):
        HealthInfo.from_dict(["ok"])
