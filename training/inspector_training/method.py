"""The Student–Teacher method's math (Bergmann et al., CVPR 2020), in one place.

Teacher pre-training: L = λk·Lk + λm·Lm + λc·Lc.
Students: regress the teacher's descriptors normalised by their training-set mean and std.
Scores: regression error e and predictive variance v per output position.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                 margin: float = 1.0) -> torch.Tensor:
    """Lm with the paper's δ⁻ = min(‖a − n‖², ‖p − n‖²) on squared L2 distances; inputs (B, D)."""
    d_pos = (anchor - positive).pow(2).sum(1)
    d_neg = torch.minimum((anchor - negative).pow(2).sum(1), (positive - negative).pow(2).sum(1))
    return F.relu(margin + d_pos - d_neg).mean()


def compactness_loss(descriptors: torch.Tensor) -> torch.Tensor:
    """Lc: mean absolute off-diagonal entry of the batch correlation matrix; input (B, D).

    The paper sums the signed entries, but that sum is minimised by a linear dependency between
    channels (1ᵀC1 → 0), the opposite of compactness; absolute values decorrelate every pair.
    The mean rather than the sum keeps the weight λc independent of D.
    """
    centred = descriptors - descriptors.mean(0, keepdim=True)
    std = centred.pow(2).mean(0).add(1e-8).sqrt()
    standardised = centred / std
    correlation = standardised.t() @ standardised / descriptors.shape[0]
    dims = correlation.shape[0]
    off_diagonal = correlation.abs().sum() - correlation.diagonal().abs().sum()
    return off_diagonal / (dims * (dims - 1))


def distillation_loss(projected: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Lk: ‖FC(T(p)) − P(p)‖², averaged over the batch; inputs (B, K)."""
    return (projected - target).pow(2).sum(1).mean()


def normalise_teacher(teacher_out: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(T − μ)/σ per channel; teacher_out (N, D, H, W), mean and std (D,)."""
    return (teacher_out - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def student_loss(student_out: torch.Tensor, target: torch.Tensor, hard_fraction: float = 1.0) -> torch.Tensor:
    """Squared regression error summed over channels, averaged over positions — over all of them,
    or with hard_fraction < 1 over only that share of the batch's worst-regressed positions.

    Hard-feature mining as EfficientAD (Batzner et al., WACV 2024) does it, per position rather
    than per element: rare normal patterns (a part's edge, a corner) are a small share of all
    positions, so a plain mean leaves them poorly learnt and they score as anomalies on good parts.
    """
    per_position = (student_out - target).pow(2).sum(1).flatten()
    if hard_fraction >= 1.0:
        return per_position.mean()
    count = max(1, math.ceil(hard_fraction * per_position.numel()))
    return per_position.topk(count).values.mean()


def penalty_loss(student_out: torch.Tensor) -> torch.Tensor:
    """‖S(P)‖² summed over channels, averaged over positions, on a picture P unrelated to the parts.

    EfficientAD's penalty (Batzner et al., WACV 2024): the normalised teacher is zero-mean on good
    parts, so a student pulled to zero on unrelated pictures keeps its regression of the teacher
    to what it saw as good instead of generalising it to anything, defects included. Scaled as
    student_loss is, so that one weight compares the two.
    """
    return student_out.pow(2).sum(1).mean()


def error_and_variance(students: list[torch.Tensor], target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """e = ‖mean_i S_i − t‖², v = mean_i ‖S_i‖² − ‖mean_i S_i‖²; each (N, 1, H, W)."""
    stacked = torch.stack(students, 0)
    mean_student = stacked.mean(0)
    error = (mean_student - target).pow(2).sum(1, keepdim=True)
    variance = stacked.pow(2).sum(2, keepdim=True).mean(0) - mean_student.pow(2).sum(1, keepdim=True)
    return error, variance
