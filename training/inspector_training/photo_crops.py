"""Random square crops of natural photographs, resized and normalised as a network sees them.

Two users: dense distillation (the same crop for the teacher and, twice as large, for the
MobileNetV2 it learns from) and the students' penalty (unrelated pictures on which students must
not imitate the teacher).
"""
from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F

from .fused import normalise_input

CROP_RANGE = (160, 768)
GRAY_SHARE = 0.5         # line cameras are often monochrome


class PictureSampler:
    """Crops of 160–768 px (half of them made gray unless `gray_share` says otherwise, half
    mirrored), each resized to every side in `sides` and normalised: one tensor per side."""

    def __init__(self, images: list[np.ndarray], sides: tuple[int, ...], seed: int = 0,
                 normalisation: str = "per-image", gray_share: float = GRAY_SHARE):
        if not images:
            raise ValueError("no images")
        self.images = [torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float() for image in images]
        self.sides = sides
        self.normalisation = normalisation
        self.gray_share = gray_share
        self.rng = random.Random(seed)

    def batch(self, count: int) -> tuple[torch.Tensor, ...]:
        outs: list[list[torch.Tensor]] = [[] for _ in self.sides]
        for _ in range(count):
            image = self.images[self.rng.randrange(len(self.images))]
            height, width = image.shape[1:]
            limit = min(height, width)
            side = self.rng.randint(min(CROP_RANGE[0], limit), min(CROP_RANGE[1], limit))
            y, x = self.rng.randrange(height - side + 1), self.rng.randrange(width - side + 1)
            crop = image[None, :, y:y + side, x:x + side]
            if self.rng.random() < self.gray_share:
                crop = crop.mean(1, keepdim=True).expand(1, 3, -1, -1)
            if self.rng.random() < 0.5:
                crop = crop.flip(3)
            for out, side_out in zip(outs, self.sides):
                out.append(F.interpolate(crop, size=(side_out, side_out), mode="bilinear", antialias=True,
                                         align_corners=False))
        return tuple(normalise_input(torch.cat(out), self.normalisation) for out in outs)
