"""Synthetic images of a good machined part (brushed metal with a bore), for the demo and smoke runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def good_part(size: int, rng: np.random.Generator) -> Image.Image:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    grain = rng.normal(0, 1, (size, 1)).repeat(size, 1)              # grain along x
    brushed = (grain + np.roll(grain, 1, 0) + np.roll(grain, -1, 0)) / 3
    light = 0.6 + 0.4 * (xx + rng.uniform(-0.2, 0.2) * size) / size  # a light from one side, jittered
    value = 140 * light + 10 * brushed + rng.normal(0, 3, (size, size))
    cy, cx = size / 2 + rng.uniform(-2, 2, 2)
    radius = size * 0.18
    r = np.hypot(yy - cy, xx - cx)
    value = np.where(r < radius, 40, value)                          # the bore
    value = np.where(np.abs(r - radius) < 1.5, 200, value)           # its chamfer catches the light
    return Image.fromarray(np.clip(value, 0, 255).astype(np.uint8))


def write_good_parts(folder: Path, count: int, size: int = 128, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        good_part(size, rng).save(folder / f"good_{index:03d}.png")


if __name__ == "__main__":
    import sys
    write_good_parts(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 20)


def scratched_part(size: int, rng: np.random.Generator) -> tuple[Image.Image, Image.Image]:
    """A good part with a bright scratch across it, and the scratch's mask (255 = defect)."""
    from PIL import ImageDraw
    part = good_part(size, rng)
    mask = Image.new("L", (size, size), 0)
    start = tuple(int(v) for v in rng.uniform(0.1 * size, 0.4 * size, 2))
    end = tuple(int(v) for v in rng.uniform(0.6 * size, 0.9 * size, 2))
    width = max(2, size // 40)
    ImageDraw.Draw(part).line([start, end], fill=250, width=width)
    ImageDraw.Draw(mask).line([start, end], fill=255, width=width)
    return part, mask


def write_mvtec_category(root: Path, train_good: int, test_good: int, scratches: int, size: int = 128, seed: int = 0) -> None:
    """A category in MVTec AD layout: train/good, test/good, test/scratch with ground_truth masks."""
    rng = np.random.default_rng(seed)
    for folder, count in ((root / "train" / "good", train_good), (root / "test" / "good", test_good)):
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            good_part(size, rng).save(folder / f"{index:03d}.png")
    (root / "test" / "scratch").mkdir(parents=True, exist_ok=True)
    (root / "ground_truth" / "scratch").mkdir(parents=True, exist_ok=True)
    for index in range(scratches):
        part, mask = scratched_part(size, rng)
        part.save(root / "test" / "scratch" / f"{index:03d}.png")
        mask.save(root / "ground_truth" / "scratch" / f"{index:03d}_mask.png")
