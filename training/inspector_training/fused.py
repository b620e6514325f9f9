"""The whole per-frame computation as one module, exported as one ONNX graph.

Image (N×3×H×W, float32, 0–255) in; for each scale the regression-error map e and the
predictive-variance map v out. Teacher, students, input and μ/σ normalisation and the reductions
all run inside, so only small score maps ever leave the graph.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from . import method
from .networks import Mode, NetworkConfig, PatchNetwork
from .teacher_data import IMAGENET_MEAN, IMAGENET_STD
from .trunk_scales import TrunkConfig, TrunkLevel


def network_for(config: NetworkConfig | TrunkConfig) -> PatchNetwork | TrunkLevel:
    """An untrained network of a scale's kind: a patch network, or a MobileNetV2 trunk cut at a block."""
    return TrunkLevel(config) if isinstance(config, TrunkConfig) else PatchNetwork(config)


class ScaleHead(nn.Module):
    def __init__(self, teacher: PatchNetwork | TrunkLevel, students: list[PatchNetwork | TrunkLevel],
                 mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.teacher = teacher
        self.students = nn.ModuleList(students)
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: torch.Tensor, mode: Mode) -> tuple[torch.Tensor, torch.Tensor]:
        target = method.normalise_teacher(self.teacher(x, mode), self.mean, self.std)
        return method.error_and_variance([s(x, mode) for s in self.students], target)


# Per-image standardisation divides by the image's std plus this (0–255 units): a blank frame
# (std 0) gives a flat input instead of a division by zero.
STANDARDISE_STD_FLOOR = 1.0
INPUT_NORMALISATIONS = ("imagenet", "per-image")


def normalise_input(image: torch.Tensor, normalisation: str) -> torch.Tensor:
    """0–255 N×3×H×W → the teacher's input. "imagenet": fixed ImageNet mean/std, as the teachers were
    pre-trained. "per-image": each image to mean 0 and std 1 over all its pixels, so that parts
    lit brighter or darker, or with more or less contrast, look alike to the networks (scores
    otherwise scale with each part's contrast: dark tiles score low whatever their defects)."""
    if normalisation == "per-image":
        mean = image.mean((1, 2, 3), keepdim=True)
        std = (image - mean).pow(2).mean((1, 2, 3), keepdim=True).sqrt()
        return (image - mean) / (std + STANDARDISE_STD_FLOOR)
    pixel_mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype).view(1, 3, 1, 1) * 255
    pixel_std = torch.tensor(IMAGENET_STD, dtype=image.dtype).view(1, 3, 1, 1) * 255
    return (image - pixel_mean) / pixel_std


class FusedModel(nn.Module):
    def __init__(self, heads: dict[int, ScaleHead], mode: Mode, normalisation: str = "imagenet"):
        super().__init__()
        if normalisation not in INPUT_NORMALISATIONS:
            raise ValueError(f"unknown input normalisation {normalisation!r}")
        self.patch_sizes = sorted(heads)
        self.heads = nn.ModuleDict({str(p): heads[p] for p in self.patch_sizes})
        self.mode = mode
        self.normalisation = normalisation

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = normalise_input(image, self.normalisation)
        outputs: list[torch.Tensor] = []
        for p in self.patch_sizes:
            error, variance = self.heads[str(p)](x, self.mode)
            outputs += [error, variance]
        return outputs

    def output_names(self) -> list[str]:
        return [name for p in self.patch_sizes for name in (f"e_{p}", f"v_{p}")]

    def state(self) -> dict:
        """Everything needed to rebuild this module (for reference outputs and PyTorch benchmarks)."""
        return {"mode": self.mode, "normalisation": self.normalisation, "configs": {p: self.heads[str(p)].teacher.config.to_dict() for p in self.patch_sizes},
                "students": {p: len(self.heads[str(p)].students) for p in self.patch_sizes},
                "state_dict": self.state_dict()}

    @staticmethod
    def from_state(state: dict) -> "FusedModel":
        heads = {}
        for p, config in state["configs"].items():
            cfg = TrunkConfig(**config) if "block" in config else NetworkConfig(**config)
            students = [network_for(cfg) for _ in range(state["students"][p])]
            heads[int(p)] = ScaleHead(network_for(cfg), students, torch.zeros(cfg.descriptor_size),
                                      torch.ones(cfg.descriptor_size))
        model = FusedModel(heads, state["mode"], state.get("normalisation", "imagenet"))
        # Bundles made before per-image normalisation kept the ImageNet constants as buffers.
        weights = {k: v for k, v in state["state_dict"].items() if k not in ("pixel_mean", "pixel_std")}
        model.load_state_dict(weights)
        return model.eval()
