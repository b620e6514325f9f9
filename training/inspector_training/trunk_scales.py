"""Scales whose teacher is the ImageNet MobileNetV2 trunk itself (`inspector train --imagenet-trunk`).

The paper distils an ImageNet network into patch networks because that is what makes its teacher
fast; we cannot distil for its 50,000 steps here (RESULTS.md sections 7 and 9), so these scales take
the descriptors at their source: the teacher is the trunk (converted from nsfwjs by `inspector
convert-mobilenet`) cut after block_N, frozen; each student is the same architecture from random
initialisation (as STFPM does), trained with the method's loss to regress the teacher's block map.
Everything downstream — normalisation by the training-set mean and std, regression error and
predictive variance, calibration, fusion — is the method's, unchanged.

A block's map has no dense form (the trunk pads and strides as Keras does), so these scales are
strided only. Element i of a block map at stride s sees the input centred on pixel i·s + (s − 1):
each stride-2 layer pads one pixel on the right and bottom only. The manifest records that offset.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from .mobilenet_v2 import BLOCKS, MobileNetV2Trunk

# Receptive field of block_N's output in input pixels: 3×3 convolutions throughout, strides in BLOCKS.
TRUNK_BLOCKS = tuple(range(len(BLOCKS)))


def block_geometry(block: int) -> tuple[int, int]:
    """(receptive field, output stride) of block_<block>'s map."""
    field, jump = 3, 2  # conv1: 3×3, stride 2
    for _, _, stride in BLOCKS[:block + 1]:
        field += 2 * jump
        jump *= stride
    return field, jump


@dataclass(frozen=True)
class TrunkConfig:
    block: int
    kind: str = "mobilenet_v2"

    @property
    def patch_size(self) -> int:
        """The key of this scale beside the patch networks' 17, 33, 65: its receptive field."""
        return block_geometry(self.block)[0]

    @property
    def descriptor_size(self) -> int:
        return BLOCKS[self.block][1]

    width = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


class TrunkLevel(nn.Module):
    """The trunk up to block_<block>, with the interface of a PatchNetwork in strided mode."""

    def __init__(self, config: TrunkConfig, trunk: MobileNetV2Trunk | None = None):
        super().__init__()
        self.config = config
        self.patch_size = config.patch_size
        self.stride = block_geometry(config.block)[1]
        self.trunk = trunk or MobileNetV2Trunk()
        self.trunk.blocks = self.trunk.blocks[:config.block + 1]

    @property
    def offset(self) -> int:
        return self.stride - 1

    def pad(self, image: torch.Tensor) -> torch.Tensor:
        return image  # the trunk pads inside, as Keras does

    def strided_padded(self, image: torch.Tensor) -> torch.Tensor:
        return self.trunk.block_map(self.trunk.keras_input(image, "per-image"), self.config.block)

    def forward(self, image: torch.Tensor, mode: str = "strided") -> torch.Tensor:
        if mode != "strided":
            raise ValueError(f"a MobileNetV2 block scale has no {mode} form")
        return self.strided_padded(image)
