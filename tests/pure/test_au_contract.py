"""The AU contract table (DESIGN.md §3) is complete and consistent."""

from __future__ import annotations

import au_contract.action_units as c

EXPECTED = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15", "AU16",
            "AU17", "AU18", "AU20", "AU22", "AU23", "AU24", "AU25", "AU26", "AU27", "AU28", "AU43", "AU45"]


def test_every_au_of_the_contract_once_in_order() -> None:
    assert list(c.AU_CODES) == EXPECTED


def test_zones_partition_model_and_upper_channels() -> None:
    assert set(c.MODEL_AUS) | set(c.UPPER_AUS) == set(EXPECTED)
    assert not set(c.MODEL_AUS) & set(c.UPPER_AUS)
    assert c.zone_of("AU26") == "M" and c.zone_of("AU12") == "B" and c.zone_of("AU45") == "U"


def test_labels_are_in_words() -> None:
    assert c.label("AU12") == "AU12 Lip Corner Puller"


def test_emotion_prototypes_use_contract_aus_in_range() -> None:
    assert set(c.EMOTION_PROTOTYPES) == set(c.EMOTIONS)
    for aus in c.EMOTION_PROTOTYPES.values():
        for code, value in aus.items():
            assert code in c.AU_BY_CODE and 0.0 < value <= 1.0
    assert set(c.EMOTION_PROTOTYPES["HAPPINESS"]) == {"AU06", "AU12"}
