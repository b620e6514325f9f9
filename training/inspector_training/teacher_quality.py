"""How well a teacher tells patches apart, on patches from images it never saw.

Two measures on held-out triplets: triplet accuracy (the perturbed positive is closer to the
anchor than the unrelated negative) and top-1 retrieval (among all positives of the set, the
anchor's own perturbed positive is the nearest). A randomly initialised network of the same
shape is the baseline a useful teacher must beat.
"""
from __future__ import annotations

import torch

from .networks import PatchNetwork


@torch.no_grad()
def measure(network: PatchNetwork, triplets: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
            batch: int = 128) -> dict[str, float]:
    network.eval()

    def describe(patches: torch.Tensor) -> torch.Tensor:
        return torch.cat([network(patches[i:i + batch], "patch").flatten(1) for i in range(0, len(patches), batch)])

    anchors, positives, negatives = (describe(t) for t in triplets)
    d_pos = (anchors - positives).pow(2).sum(1)
    d_neg = (anchors - negatives).pow(2).sum(1)
    distances = torch.cdist(anchors, positives)
    nearest = distances.argmin(1)
    return {
        "triplet_accuracy": round((d_pos < d_neg).float().mean().item(), 4),
        "retrieval_top1": round((nearest == torch.arange(len(anchors))).float().mean().item(), 4),
        "retrieval_candidates": len(anchors),
    }
