"""README's picture of the maps command: its PNGs of a shipped clip laid out as a contact sheet.

Run: .venv/bin/python bench/maps_picture.py [--out assets/maps.png]. Runs the README's example command on
assets/cyclist_static_cam.mp4 into a temporary folder, then puts every 3rd pair's frame, difference, attention
and prompt PNGs (rows) side by side (columns), downscaled, with row labels.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("frame", "difference", "attention", "prompt")


def contact_sheet(
    folder: Path, pairs: list[int], width: int = 150, gap: int = 3, label: int = 78
) -> Image.Image:
    """Rows of stages, columns of pairs, from ``folder/<stage>/pair_XXXX.png``."""
    first = Image.open(folder / "frame" / f"pair_{pairs[0]:04d}.png")
    height = round(first.height * width / first.width)
    sheet = Image.new("RGB", (label + len(pairs) * (width + gap), len(STAGES) * (height + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, stage in enumerate(STAGES):
        y = row * (height + gap)
        draw.text((4, y + height // 2 - 6), stage, fill="black")
        for column, pair in enumerate(pairs):
            image = Image.open(folder / stage / f"pair_{pair:04d}.png").convert("RGB")
            sheet.paste(
                image.resize((width, height), Image.Resampling.LANCZOS), (label + column * (width + gap), y)
            )
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "maps.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        command = [sys.executable, "-m", "mp_core.maps", "assets/cyclist_static_cam.mp4", "--out", name]
        command += ["--format", "png"]  # the default parameters: the app's default preset
        subprocess.run(command, cwd=ROOT, check=True)
        sheet = contact_sheet(Path(name) / "cyclist_static_cam" / "MPII_Cooking_2", pairs=[0, 3, 6, 9, 12])
    # 256 colours (octree, dithered) keep the colormaps recognisable and the file ~120 KB for the README.
    sheet.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG).save(
        args.out, optimize=True
    )
    print(f"{args.out}: {sheet.width}x{sheet.height}, {args.out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
