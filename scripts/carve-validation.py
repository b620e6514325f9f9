#!/usr/bin/python3
"""A validation set carved from good training images only, for choosing settings without ever
looking at a test split: OUT/train/good (the rest), OUT/test/good (half of the held-out images)
and OUT/test/drawn with OUT/ground_truth/drawn (the other half, each with one drawn defect: a dark
spot, a thin dark line, or a darker or brighter patch, blended with a soft edge), in MVTec AD
layout so that `inspector train --good OUT` and `inspector eval --data OUT` take it as it is.
The split is by a hash of the file names, so it is the same on every machine.

    scripts/carve-validation.py GOOD_DIR OUT_DIR [--held 84] [--seed 0]
"""
from __future__ import annotations

import argparse
import hashlib
import math
import random
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
SPOT_RADIUS = (4, 9)           # px, about a blowhole
LINE_LENGTH = (40, 120)        # px, a crack
LINE_WIDTHS = (2, 3)
PATCH_RADIUS = (30, 70)        # px, a shading defect
DARKENING = 0.45               # spots and lines keep 45 % of their brightness
PATCH_GAINS = (0.7, 1.3)       # patches 30 % darker or brighter


def draw_defect(image: Image.Image, kind: str, rng: random.Random) -> tuple[Image.Image, Image.Image]:
    width, height = image.size
    mask = Image.new("L", image.size)
    pen = ImageDraw.Draw(mask)
    cx, cy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height
    if kind == "spot":
        r = rng.uniform(*SPOT_RADIUS)
        pen.ellipse([cx - r, cy - r * rng.uniform(0.6, 1.6), cx + r, cy + r], fill=255)
        gain = DARKENING
    elif kind == "line":
        length, angle = rng.uniform(*LINE_LENGTH), rng.uniform(0, math.pi)
        pen.line([cx, cy, cx + length * math.cos(angle), cy + length * math.sin(angle)], fill=255, width=rng.choice(LINE_WIDTHS))
        gain = DARKENING
    else:
        r = rng.uniform(*PATCH_RADIUS)
        pen.ellipse([cx - r, cy - r * 0.7, cx + r, cy + r * 0.7], fill=255)
        gain = rng.choice(PATCH_GAINS)
    pixels = np.asarray(image, dtype=np.float32)
    weight = np.asarray(mask.filter(ImageFilter.GaussianBlur(1)), dtype=np.float32) / 255
    if pixels.ndim == 3:
        weight = weight[..., None]
    blended = pixels * (1 - weight) + pixels * gain * weight
    return Image.fromarray(blended.clip(0, 255).astype(np.uint8)), mask.point(lambda v: 255 if v else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("good", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--held", type=int, default=84, help="good images held out (half get a drawn defect)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = sorted((p for p in args.good.iterdir() if p.suffix.lower() in SUFFIXES),
                   key=lambda p: hashlib.sha256(p.name.encode()).hexdigest())
    if len(files) < args.held + 10:
        raise SystemExit(f"{args.good}: {len(files)} images; need at least {args.held + 10} to hold {args.held} out")
    train, held = files[:-args.held], files[-args.held:]
    for folder in ("train/good", "test/good", "test/drawn", "ground_truth/drawn"):
        (args.out / folder).mkdir(parents=True, exist_ok=True)
    for file in train:
        shutil.copy(file, args.out / "train/good" / file.name)
    rng = random.Random(args.seed)
    for index, file in enumerate(held):
        if index % 2 == 0:
            shutil.copy(file, args.out / "test/good" / file.name)
            continue
        kind = ("spot", "line", "patch")[index // 2 % 3]
        with Image.open(file) as source:
            image = source.convert("L" if source.mode in ("L", "I;16", "I") else "RGB")
        drawn, mask = draw_defect(image, kind, rng)
        drawn.save(args.out / "test/drawn" / f"{file.stem}.png")
        mask.save(args.out / "ground_truth/drawn" / f"{file.stem}_mask.png")
    print(f"{len(train)} to train on, {len(held) - len(held) // 2} good and {len(held) // 2} with a drawn defect held out → {args.out}")


if __name__ == "__main__":
    main()
