"""ResNet-18 as the distillation target P, with torchvision's state-dict keys so that a user's own
ImageNet weights (e.g. resnet18-f37072fd.pth) load as they are. Nothing is downloaded."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import UserError

DISTILL_INPUT = 224  # P sees each patch upsampled to the size it was trained on
FEATURES = 512


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18Features(nn.Module):
    features = FEATURES

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths = [64, 128, 256, 512]
        inplanes = 64
        for index, planes in enumerate(widths):
            stride = 1 if index == 0 else 2
            setattr(self, f"layer{index + 1}", nn.Sequential(BasicBlock(inplanes, planes, stride),
                                                             BasicBlock(planes, planes, 1)))
            inplanes = planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(DISTILL_INPUT, DISTILL_INPUT), mode="bilinear", align_corners=False)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
        return x.mean((2, 3))


def resnet18_from_state(state: object, path: Path) -> ResNet18Features:
    """A torchvision ResNet-18 state dict (already loaded from `path`) as the distillation target."""
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    network = ResNet18Features()
    wanted = {k: v for k, v in state.items() if not k.startswith("fc.")} if isinstance(state, dict) else {}
    try:
        network.load_state_dict(wanted, strict=True)
    except RuntimeError as err:
        raise UserError("DISTILL_NOT_RESNET18", f"{path}: not a ResNet-18 state dict with torchvision's "
                        f"key names ({str(err).splitlines()[0]}), nor a MobileNetV2 trunk converted by "
                        "`inspector convert-mobilenet`.")
    return network.eval().requires_grad_(False)
