"""A teacher file (teacher_p<P>.pt): where it lies, and reading it back with a message for each way it can be wrong.

Shared by teacher pre-training, which writes it, and student training, which reads it.
"""
from __future__ import annotations

from pathlib import Path

from . import checkpoints
from .errors import UserError
from .networks import NetworkConfig, PatchNetwork

TEACHER_FORMAT = "inspector-teacher"
TEACHER_VERSION = 1


def teacher_path(out: Path, patch_size: int) -> Path:
    return out / f"teacher_p{patch_size}.pt"


def load_teacher(path: Path, patch_size: int | None = None) -> tuple[PatchNetwork, dict]:
    if not path.is_file():
        raise UserError("TEACHER_MISSING", f"{path}: no such teacher file. Pre-train one with "
                        "`inspector pretrain-teacher` or use the shipped models/teachers/.")
    blob = checkpoints.load(path)
    if not isinstance(blob, dict) or blob.get("format") != TEACHER_FORMAT:
        raise UserError("TEACHER_INVALID", f"{path}: not an inspector teacher file.")
    if blob.get("version") != TEACHER_VERSION:
        raise UserError("TEACHER_VERSION", f"{path}: teacher format version {blob.get('version')}, this "
                        f"trainer reads version {TEACHER_VERSION}. Pre-train the teacher again.")
    config = NetworkConfig(**blob["config"])
    if patch_size is not None and config.patch_size != patch_size:
        raise UserError("TEACHER_WRONG_SCALE", f"{path}: a teacher for p={config.patch_size}, but p={patch_size} "
                        f"was asked for. Use teacher_p{patch_size}.pt, or change --scales.")
    network = PatchNetwork(config)
    network.load_state_dict(blob["state_dict"])
    return network.eval(), blob
