#!/usr/bin/python3
"""Training-free probe: how far each test descriptor of a teacher is from its nearest neighbour
among descriptors of the good training images. No students are trained, so it tells in minutes
whether a preprocessing or scoring choice helps, and whether the teacher or the students limit a
setting. Writes maps for `inspector eval --maps` (float32 TIFF, <defect>/<name>.tiff, image size).

    scripts/nn-probe.py DATA_DIR OUT_DIR [--fit squash|scale] [--size 128] [--scale 0.5]
                        [--normalisation imagenet|per-image] [--teachers models/teachers] [--bank 30000]
                        [--mobilenet FILE --blocks 5,9 --size 256]

With --mobilenet (the trunk from `inspector convert-mobilenet`), the descriptors are that
ImageNet network's block maps instead of a teacher's (3×3-averaged, the later blocks upsampled to
the first one's grid and concatenated, PatchCore-style): the ceiling a teacher distilled from
those blocks (`pretrain-teacher --distill-target`) could reach.
    node bin/inspector.js eval --maps OUT_DIR --data DATA_DIR
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from inspector_training.dense_distillation import pooled_block_map  # noqa: E402
from inspector_training.distillers import load_distiller  # noqa: E402
from inspector_training.fused import normalise_input  # noqa: E402
from inspector_training.images import find_images  # noqa: E402
from inspector_training.teacher_file import load_teacher, teacher_path  # noqa: E402

QUERY_CHUNK = 2048


def model_input(path: Path, args: argparse.Namespace) -> tuple[torch.Tensor, tuple[int, int]]:
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    image = torch.from_numpy(gray)[None, None]
    if args.fit == "squash":  # every image to size×size, as a bundle's fixed input does
        shape = (args.size, args.size)
    else:  # one pixel scale for every image, aspect kept, as a fixed camera sees parts
        shape = (max(8, round(gray.shape[0] * args.scale)), max(8, round(gray.shape[1] * args.scale)))
    image = F.interpolate(image, size=shape, mode="bilinear", antialias=True, align_corners=False)
    return normalise_input(image.expand(1, 3, -1, -1), args.normalisation), gray.shape


class MobileNetBlocks(torch.nn.Module):
    def __init__(self, trunk: torch.nn.Module, blocks: list[int], normalisation: str):
        super().__init__()
        self.trunk, self.blocks, self.normalisation = trunk, blocks, normalisation

    def forward(self, x: torch.Tensor, mode: str) -> torch.Tensor:
        maps = [pooled_block_map(self.trunk, x, b, self.normalisation) for b in self.blocks]
        grid = maps[0].shape[-2:]
        return torch.cat([F.interpolate(m, size=grid, mode="bilinear", align_corners=False) for m in maps], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--fit", choices=["squash", "scale"], default="squash")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--normalisation", choices=["imagenet", "per-image"], default="imagenet")
    parser.add_argument("--teachers", default=str(Path(__file__).resolve().parent.parent / "models" / "teachers"))
    parser.add_argument("--patch-size", type=int, default=33)
    parser.add_argument("--bank", type=int, default=30000, help="good descriptors kept (a random sample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mobilenet", type=Path, help="probe this MobileNetV2 trunk's block maps instead")
    parser.add_argument("--blocks", default="5,9", help="with --mobilenet: the blocks, finest first")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    if args.mobilenet:
        teacher = MobileNetBlocks(load_distiller(args.mobilenet), [int(b) for b in args.blocks.split(",")], args.normalisation)
    else:
        teacher, _ = load_teacher(teacher_path(Path(args.teachers), args.patch_size), args.patch_size)
    teacher.eval()
    with torch.no_grad():
        bank = torch.cat([teacher(model_input(f, args)[0], "strided")[0].flatten(1).t() for f in find_images(args.data)])
        if len(bank) > args.bank:
            bank = bank[torch.randperm(len(bank), generator=torch.Generator().manual_seed(args.seed))[:args.bank]]
        for defect_dir in sorted(p for p in (args.data / "test").iterdir() if p.is_dir()):
            (args.out / defect_dir.name).mkdir(parents=True, exist_ok=True)
            for file in find_images(defect_dir):
                x, shape = model_input(file, args)
                descriptors = teacher(x, "strided")[0]
                query = descriptors.flatten(1).t()
                distance = torch.cat([torch.cdist(query[i:i + QUERY_CHUNK], bank).min(1).values
                                      for i in range(0, len(query), QUERY_CHUNK)])
                grid = distance.view(1, 1, *descriptors.shape[1:])
                full = F.interpolate(grid, size=shape, mode="bilinear", align_corners=False)[0, 0].numpy()
                Image.fromarray(full.astype(np.float32), mode="F").save(args.out / defect_dir.name / f"{file.stem}.tiff")


if __name__ == "__main__":
    main()
