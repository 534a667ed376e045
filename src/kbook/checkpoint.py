"""Save and load training state without ever leaving a half-written file behind."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import atomic_write


class CheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be read back."""


def save(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` with ``torch.save`` atomically: a crash mid-write keeps the previous checkpoint."""
    with atomic_write(path) as f:
        torch.save(state, f)
    return Path(path)


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {path} ({path.stat().st_size} bytes) could not be read: it is truncated, "
            f"corrupt or not a kbook checkpoint ({type(exc).__name__}: {exc}). Delete it to start "
            "training afresh, or point to another checkpoint."
        ) from exc


def rng_state() -> dict[str, Any]:
    """Every random generator's state (Python, NumPy, torch CPU, CUDA and MPS), checkpoint-safe."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "mps": torch.mps.get_rng_state() if torch.backends.mps.is_available() else None,
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        # a run saved with more GPUs than this machine has restores the ones it has
        for index, gpu_state in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(gpu_state, index)
    if state.get("mps") is not None and torch.backends.mps.is_available():  # older checkpoints lack it
        torch.mps.set_rng_state(state["mps"])
