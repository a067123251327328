"""Test tiers (STYLE.md habit 8): a test's folder gives its marker (tests/pure, tests/server,
tests/blender); ``slow`` is set explicitly. Select with ``-m pure``, ``-m "not slow"`` and so on.

The blender tier imports the real bpy (5.0.1 wheel) with its user resources in a temporary folder, so the
developer's own Blender config is never touched; the built extension zip is installed once per session
with Blender's own installer and each test starts from a fresh empty file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TIERS = ("pure", "server", "blender")

# Shared fixtures of every tier (ports, the real model server, speech clips): tests/fixtures.py.
pytest_plugins = ["tests.fixtures"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))
    # Blender tests share one bpy per process: run them after the others, in file order.
    items.sort(key=lambda it: 1 if it.get_closest_marker("blender") else 0)
