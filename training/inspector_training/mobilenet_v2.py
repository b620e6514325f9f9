"""An ImageNet-trained MobileNetV2 trunk for the distillation loss Lk, converted from TF.js.

The only ImageNet network that can be installed here is the Keras MobileNetV2 (width 1.0, 224²)
inside the nsfwjs npm package (MIT): its layers up to block_10 were frozen ImageNet weights when
its classification head was fine-tuned (`trainable: false` in its model.json), so the trunk up to
`block_10_project_BN` (96 channels at stride 16) is an ImageNet feature extractor. The weights are
8-bit quantised (min + scale·q per tensor). `scripts/nsfwjs-mobilenet.mjs unpack` writes the model
in TF.js's plain format; `convert` (`inspector convert-mobilenet`) maps it onto the PyTorch layers below, which follow
Keras's layer names and its padding ("same" for stride 1; for stride 2, zero padding (0,1,0,1)
then "valid", as Keras's `correct_pad` does for even sizes).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import UserError
from .teacher_data import IMAGENET_MEAN, IMAGENET_STD

DISTILLER_FORMAT = "inspector-distiller"
ARCHITECTURE = "mobilenet_v2_block10"
INPUT_SIDE = 224
BN_EPS = 1e-3  # Keras's default; PyTorch's is 1e-5
FEATURES = 96
# Per-image-normalised pictures (mean 0, std 1) are given ImageNet's typical mean and contrast in
# the [0, 1] range before Keras's 2x − 1.
PER_IMAGE_UNIT_MEAN, PER_IMAGE_UNIT_STD = 0.45, 0.226
# (expansion, output channels, stride) of Keras's blocks expanded_conv, block_1 … block_10
BLOCKS = [(1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1),
          (6, 64, 2), (6, 64, 1), (6, 64, 1), (6, 64, 1), (6, 96, 1)]


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class InvertedResidual(nn.Module):
    def __init__(self, inputs: int, expansion: int, outputs: int, stride: int):
        super().__init__()
        hidden = inputs * expansion
        self.expand = nn.Conv2d(inputs, hidden, 1, bias=False) if expansion != 1 else None
        self.expand_bn = batch_norm(hidden) if expansion != 1 else None
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, padding=0 if stride == 2 else 1, groups=hidden, bias=False)
        self.depthwise_bn = batch_norm(hidden)
        self.project = nn.Conv2d(hidden, outputs, 1, bias=False)
        self.project_bn = batch_norm(outputs)
        self.stride = stride
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand is not None:
            y = F.relu6(self.expand_bn(self.expand(y)))
        if self.stride == 2:
            y = F.pad(y, (0, 1, 0, 1))
        y = F.relu6(self.depthwise_bn(self.depthwise(y)))
        y = self.project_bn(self.project(y))
        return x + y if self.residual else y


class MobileNetV2Trunk(nn.Module):
    """ImageNet-normalised patches in (as the teachers see them), K = 96 pooled features out."""

    features = FEATURES

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 2, bias=False)
        self.conv1_bn = batch_norm(32)
        blocks, channels = [], 32
        for expansion, outputs, stride in BLOCKS:
            blocks.append(InvertedResidual(channels, expansion, outputs, stride))
            channels = outputs
        self.blocks = nn.ModuleList(blocks)
        self.register_buffer("imagenet_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("imagenet_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """Keras's input convention, [-1, 1] per channel, in; block_10_project_BN out (N, 96, H/16, W/16)."""
        return self.block_map(x, len(self.blocks) - 1)

    def block_map(self, x: torch.Tensor, block: int) -> torch.Tensor:
        """Keras's input convention in; the output of block_<block> (0 = expanded_conv) out, the
        dense target of teacher pre-training with --distill-target block_<block>."""
        x = F.relu6(self.conv1_bn(self.conv1(F.pad(x, (0, 1, 0, 1)))))
        for block_module in self.blocks[:block + 1]:
            x = block_module(x)
        return x

    def keras_input(self, x: torch.Tensor, normalisation: str = "imagenet") -> torch.Tensor:
        """Our normalised pictures ("imagenet" or "per-image", as fused.normalise_input makes them)
        back to 0–1, then Keras's 2x − 1."""
        if normalisation == "per-image":
            unit = x * PER_IMAGE_UNIT_STD + PER_IMAGE_UNIT_MEAN
        else:
            unit = x * self.imagenet_std + self.imagenet_mean
        return unit * 2 - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", align_corners=False)
        return self.feature_map(self.keras_input(x)).mean((2, 3))


def keras_names(trunk: MobileNetV2Trunk) -> dict[str, str]:
    """PyTorch parameter/buffer name → TF.js weight name."""
    names = {}

    def conv(torch_prefix: str, keras: str, depthwise: bool = False) -> None:
        names[f"{torch_prefix}.weight"] = f"{keras}/{'depthwise_kernel' if depthwise else 'kernel'}"

    def bn(torch_prefix: str, keras: str) -> None:
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                             ("running_var", "moving_variance")):
            names[f"{torch_prefix}.{ours}"] = f"{keras}/{theirs}"

    conv("conv1", "Conv1")
    bn("conv1_bn", "bn_Conv1")
    for index, block in enumerate(trunk.blocks):
        keras = "expanded_conv" if index == 0 else f"block_{index}"
        if block.expand is not None:
            conv(f"blocks.{index}.expand", f"{keras}_expand")
            bn(f"blocks.{index}.expand_bn", f"{keras}_expand_BN")
        conv(f"blocks.{index}.depthwise", f"{keras}_depthwise", depthwise=True)
        bn(f"blocks.{index}.depthwise_bn", f"{keras}_depthwise_BN")
        conv(f"blocks.{index}.project", f"{keras}_project")
        bn(f"blocks.{index}.project_bn", f"{keras}_project_BN")
    return names


def read_tfjs_weights(folder: Path) -> dict[str, np.ndarray]:
    """Every weight of a TF.js layers model (model.json + its .bin files), dequantised to float32."""
    try:
        manifest = json.loads((folder / "model.json").read_text())["weightsManifest"]
    except (OSError, ValueError, KeyError) as err:
        raise UserError("TFJS_MODEL_UNREADABLE", f"{folder}/model.json: not a TF.js layers model ({err}). "
                        "Write one with `node scripts/nsfwjs-mobilenet.mjs unpack DIR`.")
    weights = {}
    for group in manifest:
        data = b"".join((folder / name).read_bytes() for name in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            quantisation = spec.get("quantization")
            if quantisation:
                dtype = np.dtype(quantisation["dtype"])
                raw = np.frombuffer(data, dtype, count, offset)
                values = quantisation["min"] + quantisation["scale"] * raw.astype(np.float64)
            else:
                dtype = np.dtype("<f4")
                values = np.frombuffer(data, dtype, count, offset)
            offset += count * dtype.itemsize
            weights[spec["name"]] = values.astype(np.float32).reshape(spec["shape"])
    return weights


def convert(tfjs_folder: Path) -> tuple[MobileNetV2Trunk, str]:
    """The trunk with the TF.js weights, and the sha256 of the weights it was made from."""
    weights = read_tfjs_weights(tfjs_folder)
    trunk = MobileNetV2Trunk()
    state = trunk.state_dict()
    for ours, theirs in keras_names(trunk).items():
        if theirs not in weights:
            raise UserError("TFJS_NOT_MOBILENET_V2", f"{tfjs_folder}: no weight {theirs!r}; this is not a "
                            "Keras MobileNetV2 (width 1.0).")
        value = torch.from_numpy(weights[theirs])
        if value.dim() == 4:  # HWIO → OIHW; depthwise [kh, kw, C, 1] → [C, 1, kh, kw]
            value = value.permute(2, 3, 0, 1) if theirs.endswith("depthwise_kernel") else value.permute(3, 2, 0, 1)
        if value.shape != state[ours].shape:
            raise UserError("TFJS_NOT_MOBILENET_V2", f"{tfjs_folder}: {theirs} has shape {list(weights[theirs].shape)}, "
                            f"expected one for {list(state[ours].shape)}.")
        state[ours] = value.contiguous()
    trunk.load_state_dict(state)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(tfjs_folder.glob("*.bin")))).hexdigest()
    return trunk.eval().requires_grad_(False), digest


def save(trunk: MobileNetV2Trunk, digest: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": DISTILLER_FORMAT, "architecture": ARCHITECTURE, "state_dict": trunk.state_dict(),
                "source": {"package": "nsfwjs@4.4.0 (MIT), dist/models/mobilenet_v2",
                           "frozen_through": "block_10_project_BN", "weights_sha256": digest}}, out)


def load(blob: dict, path: Path) -> MobileNetV2Trunk:
    if blob.get("architecture") != ARCHITECTURE:
        raise UserError("DISTILL_UNKNOWN", f"{path}: distiller architecture {blob.get('architecture')!r}, "
                        f"this trainer knows {ARCHITECTURE!r}.")
    trunk = MobileNetV2Trunk()
    trunk.load_state_dict(blob["state_dict"])
    return trunk.eval().requires_grad_(False)
