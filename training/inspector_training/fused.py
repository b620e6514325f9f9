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


class ScaleHead(nn.Module):
    def __init__(self, teacher: PatchNetwork, students: list[PatchNetwork], mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.teacher = teacher
        self.students = nn.ModuleList(students)
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: torch.Tensor, mode: Mode) -> tuple[torch.Tensor, torch.Tensor]:
        target = method.normalise_teacher(self.teacher(x, mode), self.mean, self.std)
        return method.error_and_variance([s(x, mode) for s in self.students], target)


class FusedModel(nn.Module):
    def __init__(self, heads: dict[int, ScaleHead], mode: Mode):
        super().__init__()
        self.patch_sizes = sorted(heads)
        self.heads = nn.ModuleDict({str(p): heads[p] for p in self.patch_sizes})
        self.mode = mode
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - self.pixel_mean) / self.pixel_std
        outputs: list[torch.Tensor] = []
        for p in self.patch_sizes:
            error, variance = self.heads[str(p)](x, self.mode)
            outputs += [error, variance]
        return outputs

    def output_names(self) -> list[str]:
        return [name for p in self.patch_sizes for name in (f"e_{p}", f"v_{p}")]

    def state(self) -> dict:
        """Everything needed to rebuild this module (for reference outputs and PyTorch benchmarks)."""
        return {"mode": self.mode, "configs": {p: self.heads[str(p)].teacher.config.to_dict() for p in self.patch_sizes},
                "students": {p: len(self.heads[str(p)].students) for p in self.patch_sizes},
                "state_dict": self.state_dict()}

    @staticmethod
    def from_state(state: dict) -> "FusedModel":
        heads = {}
        for p, config in state["configs"].items():
            cfg = NetworkConfig(**config)
            students = [PatchNetwork(cfg) for _ in range(state["students"][p])]
            heads[int(p)] = ScaleHead(PatchNetwork(cfg), students, torch.zeros(cfg.descriptor_size),
                                      torch.ones(cfg.descriptor_size))
        model = FusedModel(heads, state["mode"])
        model.load_state_dict(state["state_dict"])
        return model.eval()
