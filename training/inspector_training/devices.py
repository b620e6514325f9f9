"""Where training runs: `--device auto|cpu|cuda`.

Networks are created and seeded on the CPU and only then moved, so a run starts from the same
weights on every device; checkpoints and teachers are always saved from CPU copies, so a run
started on a GPU resumes on a CPU and the other way round.
"""
from __future__ import annotations

import torch

from .errors import UserError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str) -> torch.device:
    if requested not in DEVICES:
        raise UserError("BAD_OPTION", f"--device {requested!r}: choose one of {', '.join(DEVICES)}.")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError("DEVICE_UNAVAILABLE", "--device cuda: PyTorch sees no CUDA GPU here (torch "
                        f"{torch.__version__}, built {'with' if torch.backends.cuda.is_built() else 'without'} "
                        "CUDA). Use --device cpu or auto, or install a CUDA build of PyTorch (JetPack's on a Jetson).")
    return torch.device("cuda")


def describe(device: torch.device) -> str:
    """For manifests and logs: "cpu", or "cuda (NVIDIA …)"."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"


def cpu_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}
