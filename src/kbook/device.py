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

    ``prefer`` (or the ``KBOOK_DEVICE`` environment variable) forces one, e.g. ``"cpu"``; a
    name that is not a device, or a device this machine lacks, raises ValueError.
    """
    name = prefer or os.environ.get("KBOOK_DEVICE")
    if name:
        source = f"prefer={name!r}" if prefer else f"KBOOK_DEVICE={name!r}"
        try:
            dev = torch.device(name)
        except RuntimeError as err:
            raise ValueError(f"{source} is not a device name: use 'cpu', 'cuda', 'cuda:1' or 'mps'") from err
        is_available = {"cuda": torch.cuda.is_available, "mps": _mps_available}.get(dev.type)
        if is_available is not None and not is_available():
            raise ValueError(f"{source}: this machine has no {dev.type.upper()} device; "
                             "unset it, or use 'cpu'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


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
