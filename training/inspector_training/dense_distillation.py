"""Dense distillation: Lk per output position instead of one pooled vector per patch.

The teacher runs strided over a whole picture, as students and bundles run it, and at every
output position regresses the feature map of one block of the ImageNet MobileNetV2 (through a
1×1 convolution dropped afterwards). The pooled target (`--distill-target pooled`, the paper's
Lk) summarises what a patch *is* and made teachers worse downstream (RESULTS.md, section 7); a
mid-level block's map at about the pixel scale of the part keeps what the texture looks like at
each place, which is what nearest-neighbour search on such maps detects defects with (RESULTS.md,
section 9). The target block's receptive field should fit the teacher's patch: block_5 (59 px at
the distiller's scale, 30 px at the teacher's) for p=33, block_9 (171 px, 85 px) for p=65.

Pictures: random square crops of the photos (160–768 px, half of them made gray, half mirrored),
TEACHER_SIDE² for the teacher, DISTILLER_ZOOM× that for the distiller, each normalised per image
as bundles normalise parts by default (mean 0, std 1).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import method
from .mobilenet_v2 import BLOCKS, MobileNetV2Trunk
from .networks import PatchNetwork
from .photo_crops import PictureSampler

TEACHER_SIDE = 128       # the default bundle input (--size 128)
DISTILLER_ZOOM = 2       # MobileNetV2 sees a 300-px tile at about its own resolution
TARGET_POOL = 3          # a 3×3 mean of the target, as PatchCore aggregates a neighbourhood
STATISTICS_BATCHES = 10
COMPACTNESS_POSITIONS = 1024
QUALITY_BATCHES = 4
RIDGE = 1e-3


@torch.no_grad()
def pooled_block_map(trunk: MobileNetV2Trunk, pictures: torch.Tensor, block: int,
                     normalisation: str = "per-image") -> torch.Tensor:
    """Block `block`'s map of normalised pictures, 3×3-averaged: the target before standardisation
    (and what scripts/nn-probe.py --mobilenet searches)."""
    block_map = trunk.block_map(trunk.keras_input(pictures, normalisation), block)
    return F.avg_pool2d(block_map, TARGET_POOL, 1, TARGET_POOL // 2)


def parse_target(text: str) -> int | None:
    """"pooled" → None; "block_N" → N. Checked by the caller, which names the option."""
    if text == "pooled":
        return None
    if text.startswith("block_") and text[6:].isdigit():
        return int(text[6:])
    raise ValueError(text)


def picture_sampler(images: list[np.ndarray], seed: int = 0) -> PictureSampler:
    """Pairs of the same crop: teacher-sized and distiller-sized, both normalised per image."""
    return PictureSampler(images, (TEACHER_SIDE, TEACHER_SIDE * DISTILLER_ZOOM), seed)


class DenseTarget(nn.Module):
    """A MobileNetV2 block's map, 3×3-averaged and standardised per channel on the photos."""

    def __init__(self, distiller: MobileNetV2Trunk, block: int):
        super().__init__()
        self.distiller = distiller.eval().requires_grad_(False)
        self.block = block
        channels = BLOCKS[block][1]
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    @property
    def channels(self) -> int:
        return len(self.mean)

    @torch.no_grad()
    def fit(self, sampler: PictureSampler, batch: int, device: torch.device) -> None:
        maps = torch.cat([pooled_block_map(self.distiller, sampler.batch(batch)[1].to(device), self.block)
                          for _ in range(STATISTICS_BATCHES)])
        self.mean.copy_(maps.mean((0, 2, 3)))
        self.std.copy_(maps.std((0, 2, 3)).clamp_min(1e-3))

    @torch.no_grad()
    def forward(self, large: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        target = method.normalise_teacher(pooled_block_map(self.distiller, large, self.block), self.mean, self.std)
        if target.shape[-2:] != grid:
            target = F.interpolate(target, size=grid, mode="area" if target.shape[-1] > grid[-1] else "bilinear")
        return target


def positions(maps: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → (N·H·W, C): every output position is one sample of Lk and Lc."""
    return maps.permute(0, 2, 3, 1).reshape(-1, maps.shape[1])


def losses(network: PatchNetwork, projection: nn.Module, target: DenseTarget, small: torch.Tensor,
           large: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lk over every output position of a batch, Lc over a random sample of those positions."""
    descriptors = network(small, "strided")
    goal = target(large, tuple(descriptors.shape[-2:]))
    l_k = method.distillation_loss(positions(projection(descriptors)), positions(goal))
    flat = positions(descriptors)
    return l_k, method.compactness_loss(flat[torch.randperm(len(flat))[:COMPACTNESS_POSITIONS]])


def linear_r2(x: torch.Tensor, y: torch.Tensor) -> float:
    """R² of y (n, K) from x (n, D) by ridge regression with a bias, fitted on the same rows."""
    x, y = x.double(), y.double()
    x = torch.cat([x - x.mean(0), torch.ones(len(x), 1, dtype=x.dtype)], 1)
    gram = x.t() @ x
    ridge = RIDGE * gram.diagonal().mean() * torch.eye(len(gram), dtype=x.dtype)
    residual = (y - x @ torch.linalg.solve(gram + ridge, x.t() @ y)).pow(2).sum()
    return 1 - (residual / (y - y.mean(0)).pow(2).sum()).item()


@torch.no_grad()
def explained_variance(network: PatchNetwork, target: DenseTarget, sampler: PictureSampler, batch: int) -> float:
    """How much of the standardised target a linear map of the descriptors explains on held-out
    pictures: the teacher's quality, comparable between a trained and a random network since
    neither's projection is used."""
    network.eval()
    xs, ys = [], []
    for _ in range(QUALITY_BATCHES):
        small, large = sampler.batch(batch)
        descriptors = network(small, "strided")
        xs.append(positions(descriptors))
        ys.append(positions(target(large, tuple(descriptors.shape[-2:]))))
    return round(linear_r2(torch.cat(xs), torch.cat(ys)), 4)
