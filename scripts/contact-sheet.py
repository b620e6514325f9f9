#!/usr/bin/python3
"""Contact sheet of where a detector fails: the highest-scoring good images and the lowest-scoring
defective ones, each with its anomaly map over it and the ground truth outlined.

Reads the maps `inspector eval --save-maps` (or any tool writing <defect>/<name>.tiff, float32)
wrote for a data set in MVTec AD layout. The image score is the map's maximum, as `inspector eval`
computes it. Usage:
    scripts/contact-sheet.py MAPS_DIR DATA_DIR OUT.png [--count 6] [--title TEXT]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("maps", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    items = []
    for file in sorted(args.maps.glob("*/*.tiff")):
        defect, name = file.parent.name, file.stem
        score = float(np.asarray(Image.open(file), dtype=np.float32).max())
        items.append((defect, name, score, file))
    if not items:
        raise SystemExit(f"{args.maps}: no <defect>/<name>.tiff maps (write them with inspector eval --save-maps)")
    good = sorted((i for i in items if i[0] == "good"), key=lambda i: -i[2])[:args.count]
    bad = sorted((i for i in items if i[0] != "good"), key=lambda i: i[2])[:args.count]
    # One colour scale for the whole sheet, so that maps can be compared with each other.
    low, high = np.percentile([i[2] for i in items], [1, 99])
    columns = args.count
    figure, axes = plt.subplots(4, columns, figsize=(2.1 * columns, 8.6), dpi=72)
    for row, group in ((0, good), (2, bad)):
        for column in range(columns):
            for r in (row, row + 1):
                axes[r, column].axis("off")
            if column >= len(group):
                continue
            defect, name, score, file = group[column]
            image = next(args.data.glob(f"test/{defect}/{name}.*"))
            pixels = np.asarray(Image.open(image).convert("L"))
            anomaly = np.asarray(Image.open(file), dtype=np.float32)
            axes[row, column].imshow(pixels, cmap="gray")
            axes[row, column].set_title(f"{defect} · score {score:.2f}", fontsize=8)
            axes[row + 1, column].imshow(pixels, cmap="gray")
            axes[row + 1, column].imshow(anomaly, cmap="jet", alpha=0.45, vmin=min(low, anomaly.min()), vmax=high)
            masks = list(args.data.glob(f"ground_truth/{defect}/{name}_mask.*"))
            if masks:
                mask = np.asarray(Image.open(masks[0]).convert("L")) > 0
                if mask.any():
                    axes[row + 1, column].contour(mask, levels=[0.5], colors="white", linewidths=0.8)
    figure.suptitle((args.title + "\n" if args.title else "") + "rows 1–2: highest-scoring good images; rows 3–4: "
                    "lowest-scoring defective ones (white: ground truth)", fontsize=9)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.canvas.draw()
    # A 256-colour palette keeps the sheet small enough to commit beside the docs.
    rgb = Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3])
    rgb.quantize(256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)


if __name__ == "__main__":
    main()
