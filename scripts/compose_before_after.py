"""A before/after contact sheet of the default character from two sets of bench image pairs.

Usage: ``.venv/bin/python scripts/compose_before_after.py --before OLD_DIR --after docs/splat_match
[--out docs/character_before_after.png]``. Each folder holds the ``<view>_<expression>_{cycles,splat}.png``
pairs that ``bench/bench_splat_match.py`` writes; the sheet shows, per image, Cycles before | Cycles after |
splat before | splat after. (To get the old pairs, check the older commit out, e.g. ``git worktree add
/tmp/before <commit>``, and pass ``--before /tmp/before/docs/splat_match``.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ("front_neutral", "front_jaw_open", "left30_jaw_open", "right30_blink")
COLUMNS = (("before", "cycles"), ("after", "cycles"), ("before", "splat"), ("after", "splat"))


def compose(before: Path, after: Path, out: Path) -> None:
    """Write the sheet; raises FileNotFoundError naming the first missing image."""
    folders = {"before": before, "after": after}
    first = Image.open(after / f"{IMAGES[0]}_cycles.png")
    w, h = first.size
    label_h = 16
    sheet = Image.new("RGB", (len(COLUMNS) * w, label_h + len(IMAGES) * h), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    for j, (when, engine) in enumerate(COLUMNS):
        draw.text((j * w + 4, 2), f"{engine} {when}", fill=(255, 255, 255))
        for i, name in enumerate(IMAGES):
            path = folders[when] / f"{name}_{engine}.png"
            if not path.is_file():
                raise FileNotFoundError(f"missing {path}: run bench/bench_splat_match.py for that version")
            sheet.paste(Image.open(path).convert("RGB").resize((w, h)), (j * w, label_h + i * h))
    for i, name in enumerate(IMAGES):
        draw.text((4, label_h + i * h + 4), name, fill=(255, 255, 255))
    sheet.save(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=ROOT / "docs" / "splat_match")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "character_before_after.png")
    args = parser.parse_args()
    compose(args.before, args.after, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
