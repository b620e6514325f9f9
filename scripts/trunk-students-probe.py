#!/usr/bin/python3
"""First probe of RESULTS.md section 11: students (random-init MobileNetV2 trunks, one network per
student for all --blocks together) regressing the ImageNet MobileNetV2's block maps, scored by the
method's ẽ + ṽ, maps written for `inspector eval --maps` (OUT/alike and OUT/position, the latter
standardised per position with the training images' maps). `inspector train --imagenet-trunk` is
the product form (one student network per block, sub-stride offsets, maps placed at their offset).

    scripts/trunk-students-probe.py DATA OUT [--epochs 4] [--blocks 5,9] [--size 256]
    node bin/inspector.js eval --maps OUT/position --data DATA
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from inspector_training import method  # noqa: E402
from inspector_training.distillers import load_distiller  # noqa: E402
from inspector_training.fused import normalise_input  # noqa: E402
from inspector_training.images import find_images, expand_image_list, read_all  # noqa: E402
from inspector_training.mobilenet_v2 import MobileNetV2Trunk  # noqa: E402
from inspector_training.photo_crops import PictureSampler  # noqa: E402


def load(path: Path, size: int) -> torch.Tensor:
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    image = torch.from_numpy(gray)[None, None]
    image = F.interpolate(image, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return normalise_input(image.expand(1, 3, -1, -1), "per-image")


def block_maps(trunk, x: torch.Tensor, blocks: list[int]) -> list[torch.Tensor]:
    h = trunk.keras_input(x, "per-image")
    h = F.relu6(trunk.conv1_bn(trunk.conv1(F.pad(h, (0, 1, 0, 1)))))
    out = []
    for i, b in enumerate(trunk.blocks[:max(blocks) + 1]):
        h = b(h)
        if i in blocks:
            out.append(h)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--train", type=Path)
    p.add_argument("--blocks", default="5,9")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--students", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--penalty", type=float, default=0.0)
    p.add_argument("--pool", type=int, default=1)
    p.add_argument("--trunk", type=Path, default=Path("/work/distillers/mobilenet_v2.pt"),
                   help="the file `inspector convert-mobilenet` writes")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    blocks = [int(b) for b in args.blocks.split(",")]
    teacher = load_distiller(args.trunk).eval()
    files = find_images(args.train or args.data / "train" / "good")
    images = torch.cat([load(f, args.size) for f in files])

    def targets_of(x: torch.Tensor) -> list[torch.Tensor]:
        maps = block_maps(teacher, x, blocks)
        if args.pool > 1:
            maps = [F.avg_pool2d(m, args.pool, 1, args.pool // 2) for m in maps]
        return maps

    t0 = time.time()
    with torch.no_grad():
        targets = [torch.cat(t) for t in zip(*[targets_of(images[i:i + 16]) for i in range(0, len(images), 16)])]
    means = [t.mean((0, 2, 3)) for t in targets]
    stds = [t.std((0, 2, 3)).clamp_min(1e-3) for t in targets]
    targets = [method.normalise_teacher(t, m, s) for t, m, s in zip(targets, means, stds)]
    print("targets", [tuple(t.shape) for t in targets], round(time.time() - t0, 1), flush=True)
    students = [MobileNetV2Trunk().train() for _ in range(args.students)]
    for s in students:
        s.blocks = s.blocks[:max(blocks) + 1]
    opts = [torch.optim.Adam(s.parameters(), lr=args.lr, weight_decay=1e-5) for s in students]
    sampler = None
    if args.penalty > 0:
        photos, _, _ = read_all(expand_image_list(Path(__file__).resolve().parent.parent / "models" / "teachers" / "photos.txt"), True, 1024)
        sampler = PictureSampler(photos, (args.size,), 0, "per-image", 1.0)
    rng = random.Random(0)
    steps = (len(images) + args.batch - 1) // args.batch
    for epoch in range(args.epochs):
        order = list(range(len(images)))
        rng.shuffle(order)
        total = 0.0
        for step in range(steps):
            idx = order[step * args.batch:(step + 1) * args.batch]
            x = images[idx]
            unrelated = sampler.batch(len(idx))[0] if sampler else None
            for s, o in zip(students, opts):
                outs = block_maps(s, x, blocks)
                loss = sum(method.student_loss(out, t[idx]) for out, t in zip(outs, targets))
                if unrelated is not None:
                    loss = loss + args.penalty * sum(method.penalty_loss(out) for out in block_maps(s, unrelated, blocks))
                o.zero_grad()
                loss.backward()
                o.step()
                total += loss.item() / len(students)
        print(f"epoch {epoch + 1} loss {total / steps:.3f} t={time.time() - t0:.0f}s", flush=True)
    for s in students:
        s.eval()

    def scores(x: torch.Tensor) -> list[torch.Tensor]:
        with torch.no_grad():
            t = [method.normalise_teacher(m, mu, sd) for m, mu, sd in zip(targets_of(x), means, stds)]
            outs = [block_maps(s, x, blocks) for s in students]
            maps = []
            for level in range(len(blocks)):
                e, v = method.error_and_variance([o[level] for o in outs], t[level])
                maps.append((e, v))
            return maps

    # statistics of e and v per level on training images
    good = [scores(images[i:i + 16]) for i in range(0, len(images), 16)]
    stats = []
    for level in range(len(blocks)):
        e = torch.cat([g[level][0] for g in good])
        v = torch.cat([g[level][1] for g in good])
        stats.append((e.mean(), e.std(), v.mean(), v.std()))

    def fused(x: torch.Tensor) -> torch.Tensor:
        total = 0
        for (e, v), (em, es, vm, vs) in zip(scores(x), stats):
            m = (e - em) / es + (v - vm) / vs
            total = total + F.interpolate(m, size=(args.size, args.size), mode="bilinear", align_corners=False)
        return total / len(blocks)

    train_maps = torch.cat([fused(images[i:i + 16]) for i in range(0, len(images), 16)])
    pos_mean, pos_std = train_maps.mean(0), train_maps.std(0).clamp_min(1e-3)
    for kind in ("alike", "position"):
        for d in sorted(x for x in (args.data / "test").iterdir() if x.is_dir()):
            (args.out / kind / d.name).mkdir(parents=True, exist_ok=True)
            for f in find_images(d):
                m = fused(load(f, args.size))[0]
                if kind == "position":
                    m = (m - pos_mean) / pos_std
                h, w = Image.open(f).size[::-1]
                full = F.interpolate(m[None], size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
                Image.fromarray(full.astype(np.float32), mode="F").save(args.out / kind / d.name / f"{f.stem}.tiff")
    print("done", round(time.time() - t0), flush=True)


if __name__ == "__main__":
    main()
