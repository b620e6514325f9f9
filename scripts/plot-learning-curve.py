#!/usr/bin/python3
"""The learning curve of scripts/learning-curve.sh as a figure and a Markdown table.

Reads DIR/curve-NAME-eE[-alike]/metrics.json (written by `inspector eval`), plots image AUROC,
pixel AUROC and AU-PRO against the students' epochs, one line per input (NAME) and scoring (per
position / alike), and prints the table.

    scripts/plot-learning-curve.py /work/research docs/images/learning-curve.png
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

METRICS = [("image_auroc", "image AUROC"), ("pixel_auroc", "pixel AUROC"), ("au_pro", "AU-PRO (FPR ≤ 0.3)")]
POINT = re.compile(r"^curve-(?P<name>.+)-e(?P<epochs>\d+)(?P<alike>-alike)?$")


def read_points(root: Path) -> dict[tuple[str, bool], list[tuple[int, dict[str, float]]]]:
    lines: dict[tuple[str, bool], list[tuple[int, dict[str, float]]]] = {}
    for folder in sorted(root.iterdir()):
        match = POINT.match(folder.name)
        metrics_file = folder / "metrics.json"
        if not match or not metrics_file.exists():
            continue
        overall = json.loads(metrics_file.read_text())["overall"]
        key = (match["name"], match["alike"] is not None)
        lines.setdefault(key, []).append((int(match["epochs"]), overall))
    for points in lines.values():
        points.sort(key=lambda p: p[0])
    return lines


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root, figure = Path(sys.argv[1]), Path(sys.argv[2])
    lines = read_points(root)
    if not lines:
        sys.exit(f"no curve-NAME-eE/metrics.json under {root}: run scripts/learning-curve.sh first")
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True)
    for (name, alike), points in sorted(lines.items()):
        epochs = [e for e, _ in points]
        for ax, (key, _) in zip(axes, METRICS):
            ax.plot(epochs, [m[key] for _, m in points], marker="o", linestyle="--" if alike else "-",
                    label=f"{name}, {'alike' if alike else 'per position'}")
    for ax, (_, title) in zip(axes, METRICS):
        ax.set_title(title)
        ax.set_xlabel("student epochs")
        ax.set_xscale("log", base=2)
        ticks = sorted({e for points in lines.values() for e, _ in points})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Students' learning curve on the carved validation data (magnetic tile)")
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=110)
    print("| input | scoring | epochs | image AUROC | pixel AUROC | AU-PRO |")
    print("|---|---|---|---|---|---|")
    for (name, alike), points in sorted(lines.items()):
        for epochs, m in points:
            print(f"| {name} | {'alike' if alike else 'per position'} | {epochs} | "
                  f"{m['image_auroc']:.3f} | {m['pixel_auroc']:.3f} | {m['au_pro']:.3f} |")


if __name__ == "__main__":
    main()
