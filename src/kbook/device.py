"""Pick the fastest available device, and make runs repeatable.

The same notebook runs on a laptop CPU, an Apple GPU (MPS) and an NVIDIA GPU on Colab;
everything device-specific goes through these few functions.
"""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch


def device(prefer: str | None = None) -> torch.device:
    """Return CUDA if available, then Apple MPS, then CPU.

    ``prefer`` (or the ``KBOOK_DEVICE`` environment variable) forces one, e.g. ``"cpu"``.
    """
    name = prefer or os.environ.get("KBOOK_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_supported(dev: torch.device | str) -> bool:
    """True when ``dev`` is a CUDA device whose hardware does bfloat16 arithmetic natively.

    That is compute capability 8.0 (Ampere) or newer. ``torch.cuda.is_bf16_supported()`` also
    says True for older GPUs such as Colab's T4 (7.5), which only emulate bfloat16: slower than
    float32 there, and without bfloat16 convolutions in cuDNN.
    """
    dev = torch.device(dev)
    if dev.type != "cuda" or not torch.cuda.is_available():
        return False
    if torch.version.hip:  # AMD GPUs that run PyTorch's ROCm build all do bfloat16
        return True
    return torch.cuda.get_device_capability(dev)[0] >= 8


def autocast(dev: torch.device | str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on a CUDA device that supports it; a no-op context elsewhere."""
    dev = torch.device(dev)
    if bf16_supported(dev):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and every GPU) random generators."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
