"""Triplets of natural-image patches for teacher pre-training.

A patch is a random square crop of 4p–16p pixels resized to p×p, so the teacher sees structure at
the scale an object part has, not single pixels. The positive is the same crop shifted by up to
two output pixels, with noise and a brightness change; the negative is an unrelated crop.
Geometric and colour augmentation (90° rotations, flips, colour gains, ~10 % grayscale) widen the
narrow content of the few hundred megapixels we have.
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_RANGE = (4.0, 16.0)
GRAYSCALE_PROBABILITY = 0.1
SHIFT_OUTPUT_PIXELS = 2.0
NOISE_STD = 0.03
BRIGHTNESS_RANGE = (0.8, 1.2)


def normalise(batch_0_1: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (batch_0_1 - mean) / std


class PatchSampler:
    def __init__(self, images: list[np.ndarray], patch_size: int, seed: int = 0):
        if not images:
            raise ValueError("no images")
        self.p = patch_size
        self.rng = random.Random(seed)
        # A pyramid per image: crops are cut from the level where they are about 2p wide, so
        # resizing stays cheap whatever the crop size.
        self.pyramids: list[list[torch.Tensor]] = []
        for image in images:
            level = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float().div(255)
            levels = [level]
            while min(level.shape[1:]) >= 4 * patch_size:
                level = F.avg_pool2d(level[None], 2)[0]
                levels.append(level)
            self.pyramids.append(levels)
        areas = [lv[0].shape[1] * lv[0].shape[2] for lv in self.pyramids]
        self.weights = [a / sum(areas) for a in areas]

    def _box(self, image_index: int) -> tuple[int, float, float, float]:
        full = self.pyramids[image_index][0]
        limit = min(full.shape[1], full.shape[2])
        side = min(limit, self.p * self.rng.uniform(*CROP_RANGE))
        y = self.rng.uniform(0, full.shape[1] - side)
        x = self.rng.uniform(0, full.shape[2] - side)
        return image_index, y, x, side

    def _cut(self, box: tuple[int, float, float, float]) -> torch.Tensor:
        image_index, y, x, side = box
        levels = self.pyramids[image_index]
        k = max(0, min(len(levels) - 1, int(math.floor(math.log2(max(side / (2 * self.p), 1.0))))))
        scale = 2 ** k
        level = levels[k]
        ys, xs, s = y / scale, x / scale, side / scale
        y0 = int(min(max(round(ys), 0), level.shape[1] - 1))
        x0 = int(min(max(round(xs), 0), level.shape[2] - 1))
        s_int = max(1, min(int(round(s)), level.shape[1] - y0, level.shape[2] - x0))
        crop = level[:, y0:y0 + s_int, x0:x0 + s_int]
        return F.interpolate(crop[None], size=(self.p, self.p), mode="bilinear", align_corners=False,
                             antialias=s_int > self.p)[0]

    def _shifted(self, box: tuple[int, float, float, float]) -> tuple[int, float, float, float]:
        image_index, y, x, side = box
        full = self.pyramids[image_index][0]
        step = side / self.p * SHIFT_OUTPUT_PIXELS
        ny = min(max(y + self.rng.uniform(-step, step), 0), full.shape[1] - side)
        nx = min(max(x + self.rng.uniform(-step, step), 0), full.shape[2] - side)
        return image_index, ny, nx, side

    def _augment(self, patches: list[torch.Tensor]) -> list[torch.Tensor]:
        """The same geometry and colour for the patches of one triplet part (anchor+positive share it)."""
        turns = self.rng.randrange(4)
        flip = self.rng.random() < 0.5
        gains = torch.tensor([self.rng.uniform(0.8, 1.2) for _ in range(3)]).view(3, 1, 1)
        gray = self.rng.random() < GRAYSCALE_PROBABILITY
        out = []
        for patch in patches:
            patch = torch.rot90(patch, turns, (1, 2))
            if flip:
                patch = patch.flip(2)
            patch = (patch * gains).clamp(0, 1)
            if gray:
                patch = patch.mean(0, keepdim=True).expand(3, -1, -1)
            out.append(patch)
        return out

    def _perturb(self, patch: torch.Tensor) -> torch.Tensor:
        brightness = self.rng.uniform(*BRIGHTNESS_RANGE)
        noise = torch.randn(patch.shape, generator=None) * NOISE_STD
        return (patch * brightness + noise).clamp(0, 1)

    def triplets(self, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        anchors, positives, negatives = [], [], []
        indices = range(len(self.pyramids))
        for _ in range(count):
            box = self._box(self.rng.choices(indices, self.weights)[0])
            anchor, positive = self._augment([self._cut(box), self._cut(self._shifted(box))])
            negative = self._augment([self._cut(self._box(self.rng.choices(indices, self.weights)[0]))])[0]
            anchors.append(anchor)
            positives.append(self._perturb(positive))
            negatives.append(negative)
        return (normalise(torch.stack(anchors)), normalise(torch.stack(positives)),
                normalise(torch.stack(negatives)))
