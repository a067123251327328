"""ARKit name matching and custom AU maps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from au_contract import AU_CODES
from rigs.arkit import (
    ARKIT_52,
    MappingError,
    arkit_target_map,
    custom_target_map,
    load_custom_map,
    match_arkit,
    normalise,
    parse_custom_map,
    side_of,
)


def test_52_unique_names() -> None:
    assert len(ARKIT_52) == 52 and len(set(ARKIT_52)) == 52


@pytest.mark.parametrize("name", ["eyeBlinkLeft", "EyeBlinkLeft", "blendShape.eyeBlinkLeft",
                                  "ARKit_eye_blink_left", "eyeBlink_L", "bs:EYEBLINKLEFT"])
def test_tolerant_matching(name: str) -> None:
    assert match_arkit([name]) == {"eyeBlinkLeft": name}


def test_non_arkit_names_do_not_match() -> None:
    assert match_arkit(["Smile", "Basis", "jaw"]) == {}
    assert normalise("Key 1") != "jawopen"


def test_full_arkit_set_maps_every_au() -> None:
    tmap = arkit_target_map(list(ARKIT_52))
    assert tmap.unmapped == []
    assert tmap.targets["jawOpen"] == {"AU26": 0.6, "AU27": 1.0}
    assert side_of("mouthSmileLeft") == "L" and side_of("Smile_R") == "R" and side_of("jawOpen") is None


def test_partial_set_reports_unmapped() -> None:
    tmap = arkit_target_map(["jawOpen", "eyeBlinkLeft", "eyeBlinkRight"])
    assert set(tmap.unmapped) == set(AU_CODES) - {"AU26", "AU27", "AU43", "AU45"}


def test_custom_map(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"schema": "au-map/1", "map": {
        "AU12": {"Smile_L": 1.0, "Smile_R": 1.0}, "AU26": "JawOpen", "AU45": ["Blink_L", "Missing"]}}))
    tmap = custom_target_map(load_custom_map(path), ["Smile_L", "Smile_R", "JawOpen", "Blink_L"])
    assert tmap.targets == {"Smile_L": {"AU12": 1.0}, "Smile_R": {"AU12": 1.0}, "JawOpen": {"AU26": 1.0},
                            "Blink_L": {"AU45": 1.0}}
    assert tmap.unknown == ["Missing"]
    assert "AU01" in tmap.unmapped and "AU12" not in tmap.unmapped


@pytest.mark.parametrize("bad", [[1, 2], {"AU99": "x"}, {"AU12": 3}, {"AU12": {"k": "heavy"}}])
def test_bad_custom_maps(bad: object) -> None:
    with pytest.raises(MappingError):
        parse_custom_map(bad)


def test_unreadable_map(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(MappingError, match="cannot read"):
        load_custom_map(bad)
