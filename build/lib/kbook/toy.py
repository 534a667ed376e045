"""Small synthetic datasets generated on the fly (no files, no downloads)."""

from __future__ import annotations

import math

import torch


def two_moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half-circles in the plane.

    Returns ``(X, y)``: float32 points of shape (n, 2) and int64 labels 0/1 of shape (n,),
    half of each class (the first class gets the extra point when ``n`` is odd).
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    g = torch.Generator().manual_seed(seed)
    n0 = (n + 1) // 2
    t0 = torch.rand(n0, generator=g) * math.pi
    t1 = torch.rand(n - n0, generator=g) * math.pi
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], dim=1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], dim=1)
    X = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n - n0, dtype=torch.long)])
    order = torch.randperm(n, generator=g)
    return X[order], y[order]
