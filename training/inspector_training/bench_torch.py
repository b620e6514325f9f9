"""PyTorch eager timing of a bundle's fused computation (teacher, students, e and v), the same
weights and input size as its ONNX graph: the other side of `inspector bench`'s comparison."""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import torch

from . import checkpoints
from .errors import UserError
from .fused import FusedModel


def bench(bundle: Path, runs: int, warmup: int, threads: int) -> dict:
    fused_file = bundle / "training" / "fused.pt"
    if not fused_file.is_file():
        raise UserError("NO_TRAINING_STATE", f"{fused_file}: missing; the PyTorch comparison needs the bundle's weights.")
    torch.set_num_threads(threads or os.cpu_count() or 1)
    model = FusedModel.from_state(checkpoints.load(fused_file)).eval()
    shape = json.loads((bundle / "manifest.json").read_text())["input"]["shape"]
    image = torch.rand(*shape, generator=torch.Generator().manual_seed(0)) * 255
    times = []
    with torch.no_grad():
        for index in range(warmup + runs):
            started = time.perf_counter()
            model(image)
            if index >= warmup:
                times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"runMs": {"median": statistics.median(times), "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
                      "max": times[-1]}, "threads": torch.get_num_threads(), "torch": torch.__version__}
