"""Patch networks of the Student–Teacher method, evaluated three ways with the same weights.

Every output of a network for patch size p sees exactly one p×p patch. The reference tables in
DESIGN.md see only 17, 32 and 60 pixels for p = 17, 33, 65 (2×2 pooling floors odd sizes); we
widen the first convolution (the cheapest place: it has 3 input channels) so that the receptive field is exactly p (odd), which puts every
dense output on the pixel at the centre of its patch — no half-pixel alignment to carry around:

  p=17: C6/128 → C5/256 → C5/256 → C4/D                         (as in the paper)
  p=33: C6/128 → MP → C5/256 → MP → C2/256 → C4/D                 (first conv 5 → 6)
  p=65: C10/128 → MP → C5/128 → MP → C5/128 → MP → C4/256 → C1/D  (first conv 5 → 10)

Modes:
  patch   — a p×p input gives one descriptor (training the teacher);
  dense   — "fast dense local feature extraction" (Bailer et al. 2017) in its à-trous form: pools
            become stride 1 and every later layer is dilated by the product of the strides before
            it, so one pass yields the descriptor of the patch centred on every input pixel;
  strided — the plain pooled network: one descriptor every 2^k pixels, equal to dense
            subsampled. Training students on it with random sub-stride offsets trains the very
            weights the dense network uses, at a fraction of the cost.
Dense and strided pad the image by (p − 1)/2 with border reflection, so maps have the image's
size (dense) or ceil(size / stride) (strided).
"""
from __future__ import annotations

from dataclasses import dataclass, asdict
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

LEAKY_SLOPE = 5e-3
Mode = Literal["patch", "dense", "strided"]

# ("conv", kernel, channels) with channels None meaning the descriptor size; ("pool",) = 2×2 max-pool.
ARCHITECTURES: dict[int, list[tuple]] = {
    17: [("conv", 6, 128), ("conv", 5, 256), ("conv", 5, 256), ("conv", 4, None)],
    33: [("conv", 6, 128), ("pool",), ("conv", 5, 256), ("pool",), ("conv", 2, 256), ("conv", 4, None)],
    65: [("conv", 10, 128), ("pool",), ("conv", 5, 128), ("pool",), ("conv", 5, 128), ("pool",),
         ("conv", 4, 256), ("conv", 1, None)],
}
PATCH_SIZES = tuple(sorted(ARCHITECTURES))


@dataclass(frozen=True)
class NetworkConfig:
    patch_size: int
    width: float = 1.0          # multiplies every hidden layer's channels
    descriptor_size: int = 128  # D, the output channels

    def to_dict(self) -> dict:
        return asdict(self)


def receptive_field(patch_size: int) -> int:
    field, jump = 1, 1
    for layer in ARCHITECTURES[patch_size]:
        kernel = layer[1] if layer[0] == "conv" else 2
        field += (kernel - 1) * jump
        if layer[0] == "pool":
            jump *= 2
    return field


def output_stride(patch_size: int) -> int:
    return 2 ** sum(1 for layer in ARCHITECTURES[patch_size] if layer[0] == "pool")


class PatchNetwork(nn.Module):
    def __init__(self, config: NetworkConfig):
        super().__init__()
        if config.patch_size not in ARCHITECTURES:
            raise ValueError(f"patch size {config.patch_size} is not one of {PATCH_SIZES}")
        self.config = config
        self.patch_size = config.patch_size
        self.stride = output_stride(config.patch_size)
        self.layout: list[str] = []
        convs = []
        channels = 3
        for layer in ARCHITECTURES[config.patch_size]:
            if layer[0] == "pool":
                self.layout.append("pool")
                continue
            out = config.descriptor_size if layer[2] is None else max(8, round(layer[2] * config.width))
            convs.append(nn.Conv2d(channels, out, layer[1]))
            self.layout.append("conv")
            channels = out
        self.convs = nn.ModuleList(convs)
        assert receptive_field(config.patch_size) == config.patch_size

    def _run(self, x: torch.Tensor, dense: bool) -> torch.Tensor:
        dilation = 1
        conv_index = 0
        last = len(self.convs) - 1
        for kind in self.layout:
            if kind == "pool":
                if dense:
                    x = F.max_pool2d(x, 2, stride=1, dilation=dilation)
                    dilation *= 2
                else:
                    x = F.max_pool2d(x, 2, stride=2)
                continue
            conv = self.convs[conv_index]
            x = F.conv2d(x, conv.weight, conv.bias, dilation=dilation if dense else 1)
            if conv_index != last:
                x = F.leaky_relu(x, LEAKY_SLOPE)
            conv_index += 1
        return x

    def pad(self, image: torch.Tensor) -> torch.Tensor:
        half = (self.patch_size - 1) // 2
        return F.pad(image, (half, half, half, half), mode="reflect")

    def forward(self, x: torch.Tensor, mode: Mode = "patch") -> torch.Tensor:
        if mode == "patch":
            return self._run(x, dense=False)
        if mode == "dense":
            return self._run(self.pad(x), dense=True)
        if mode == "strided":
            return self._run(self.pad(x), dense=False)
        raise ValueError(f"unknown mode {mode!r}")

    def strided_padded(self, padded: torch.Tensor) -> torch.Tensor:
        """Strided pass over an already padded (and possibly offset-cropped) image."""
        return self._run(padded, dense=False)


def count_parameters(network: nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())
