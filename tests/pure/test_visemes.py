"""The viseme solver (rigs.visemes): leaves sum to one, closures land on PP, vowels on their visemes, and
every vendor viseme is a simple expression Blender accepts."""

from __future__ import annotations

import itertools

import pytest

from au_contract.zone_rules import MAX_EXPRESSION, evaluate
from rigs.visemes import LEAVES, VISEME_SETS, solve, viseme_driver

AUS = ("AU18", "AU20", "AU22", "AU24", "AU25", "AU26", "AU27", "AU28")


def test_leaves_partition_one() -> None:
    for values in itertools.product((0.0, 0.15, 0.35, 0.6, 1.0), repeat=4):
        aus = dict(zip(("AU18", "AU20", "AU24", "AU26"), values, strict=True)) | {"AU25": 0.3, "AU28": 0.1}
        assert sum(solve(aus).values()) == pytest.approx(1.0)


@pytest.mark.parametrize(("aus", "leaf"), [
    ({"AU24": 0.7, "AU26": 0.4, "AU25": 0.0}, "PP"),  # a fast /p/: the jaw stays a little open
    ({"AU28": 0.6, "AU25": 0.2, "AU26": 0.15}, "FF"),
    ({"AU26": 0.75, "AU27": 0.2, "AU25": 0.85, "AU20": 0.03}, "aa"),
    ({"AU26": 0.12, "AU25": 0.35, "AU20": 0.48}, "I"),
    ({"AU26": 0.42, "AU25": 0.6, "AU20": 0.27}, "aa"),
    ({"AU26": 0.15, "AU25": 0.22, "AU18": 0.95, "AU22": 0.27}, "U"),
    ({"AU26": 0.5, "AU25": 0.58, "AU18": 0.25, "AU22": 0.54}, "O"),
    ({}, "sil"),
])
def test_the_articulation_picks_its_viseme(aus: dict[str, float], leaf: str) -> None:
    weights = solve(aus)
    assert max(weights, key=weights.__getitem__) == leaf, weights


def test_vendor_visemes_are_short_simple_and_bounded() -> None:
    for set_name, table in VISEME_SETS.items():
        used: set[str] = set()
        for leaves in table.values():
            if isinstance(leaves, str):
                continue
            assert not used & set(leaves), f"{set_name}: a leaf feeds two visemes"
            used |= set(leaves)
            spec = viseme_driver(leaves)
            assert len(spec.expression) <= MAX_EXPRESSION
            for values in itertools.product((0.0, 0.5, 1.0), repeat=len(AUS)):
                props = dict(zip(AUS, values, strict=True))
                assert 0.0 <= evaluate(spec, props) <= 1.0
        assert used <= set(LEAVES)


def test_preston_blair_b_is_the_sum_of_its_leaves() -> None:
    aus = {"AU26": 0.1, "AU25": 0.4, "AU20": 0.2}
    w = solve(aus)
    assert evaluate(viseme_driver({"I": 1.0, "DD": 1.0}), aus) == pytest.approx(w["I"] + w["DD"])
