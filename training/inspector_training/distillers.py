"""The pretrained network P of the distillation loss Lk: a user's torchvision ResNet-18 file, or the
ImageNet MobileNetV2 trunk converted from nsfwjs (mobilenet_v2.py). Each has `features` (K)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from . import mobilenet_v2
from .errors import UserError
from .resnet18 import resnet18_from_state


def load_distiller(path: Path) -> nn.Module:
    if not path.is_file():
        raise UserError("DISTILL_MISSING", f"{path}: no such file. --distill-from takes a local ResNet-18 "
                        "state-dict (.pth) file, e.g. torchvision's resnet18-f37072fd.pth, or the MobileNetV2 "
                        "trunk written by `inspector convert-mobilenet` (docs/training.md).")
    try:
        blob = torch.load(path, map_location="cpu")
    except Exception as err:  # torch raises many types for a bad file
        raise UserError("DISTILL_UNREADABLE", f"{path}: not a readable PyTorch file ({err}).")
    # Building a network draws its random initial weights: keep the caller's random stream as it was.
    with torch.random.fork_rng(devices=[]):
        if isinstance(blob, dict) and blob.get("format") == mobilenet_v2.DISTILLER_FORMAT:
            return mobilenet_v2.load(blob, path)
        return resnet18_from_state(blob, path)
