"""Atomic, space-checked saving: a run stopped at any moment leaves the last good checkpoint."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from .errors import UserError

SPARE_BYTES = 64 << 20  # keep this much free beyond the file itself


def ensure_space(folder: Path, needed_bytes: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed_bytes + SPARE_BYTES:
        raise UserError("NO_DISK_SPACE", f"{folder}: only {free >> 20} MiB free, about "
                        f"{(needed_bytes + SPARE_BYTES) >> 20} MiB needed. Free some space or choose another --out.")


def save(obj: Any, path: Path, size_hint: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ensure_space(path.parent, size_hint)
    temporary = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        if err.errno == errno.ENOSPC:
            raise UserError("NO_DISK_SPACE", f"{path}: disk full while saving. Free some space and rerun "
                            "the same command to resume from the last checkpoint.")
        raise UserError("WRITE_FAILED", f"{path}: cannot write ({err.strerror}). Check the folder's permissions.")


def load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu")
    except Exception as err:  # torch raises many types for a bad file
        raise UserError("CHECKPOINT_CORRUPT", f"{path}: not a readable checkpoint ({err}). "
                        "Delete it to start over, or restore it from a backup.")


def state_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())
