#!/usr/bin/python3
"""Image AUROC of several ways to turn an anomaly map into an image score: the maximum (what
`inspector eval` and the daemon use) against the mean of the map's top share of pixels.

Reads the maps `inspector eval --save-maps` wrote (<defect>/<name>.tiff, float32) for a data set
in MVTec AD layout; an image is anomalous when its mask has a non-zero pixel. Usage:
    scripts/image-scores.py MAPS_DIR DATA_DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

AGGREGATES = {"max": 0.0, "top 0.1 %": 0.001, "top 0.5 %": 0.005, "top 1 %": 0.01, "top 5 %": 0.05}


def auroc(positive: list[float], negative: list[float]) -> float:
    """Mann–Whitney U over all pairs, ties counted half."""
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def image_score(pixels: np.ndarray, share: float) -> float:
    ordered = np.sort(pixels.ravel())[::-1]
    return float(ordered[:max(1, int(share * ordered.size))].mean())


def main(maps_dir: Path, data_dir: Path) -> None:
    rows = []
    for path in sorted(maps_dir.glob("*/*.tiff")):
        defect, name = path.parent.name, path.stem
        mask = data_dir / "ground_truth" / defect / f"{name}_mask.png"
        anomalous = mask.is_file() and np.asarray(Image.open(mask)).max() > 0
        rows.append((defect, anomalous, np.asarray(Image.open(path), dtype=np.float32)))
    if not rows:
        sys.exit(f"{maps_dir}: no <defect>/<name>.tiff maps (write them with inspector eval --save-maps)")
    defects = sorted({d for d, a, _ in rows if a})
    print("score      | all   | " + " | ".join(defects))
    for label, share in AGGREGATES.items():
        scored = [(d, a, image_score(m, share)) for d, a, m in rows]
        good = [s for _, a, s in scored if not a]
        per = [auroc([s for d, a, s in scored if a and d == defect], good) for defect in defects]
        overall = auroc([s for _, a, s in scored if a], good)
        print(f"{label:10s} | {overall:.3f} | " + " | ".join(f"{v:.3f}" for v in per))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
