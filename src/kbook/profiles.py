"""Run profiles: how big a notebook's experiment is.

- ``smoke``: seconds; proves every code path runs (CI).
- ``cpu``: minutes on a laptop; results a reader can believe.
- ``gpu``: full size on a GPU; the numbers the published book shows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from .device import device

PROFILES = ("smoke", "cpu", "gpu")
T = TypeVar("T")


def _check(value: str, where: str) -> str:
    if value not in PROFILES:
        raise ValueError(
            f"unknown profile {value!r} from {where}; valid values are "
            f"{', '.join(repr(p) for p in PROFILES)} (or None for automatic)"
        )
    return value


def profile(requested: str | None = None) -> str:
    """Resolve the run profile.

    The argument wins if given, then the ``KBOOK_PROFILE`` environment variable, then
    automatic: ``"gpu"`` when :func:`kbook.device` picks a CUDA GPU (so ``KBOOK_DEVICE=cpu`` on a
    GPU machine gives ``"cpu"``), else ``"cpu"``.
    """
    if requested is not None:
        return _check(requested, "the PROFILE argument")
    env = os.environ.get("KBOOK_PROFILE", "").strip()
    if env:
        return _check(env, "the KBOOK_PROFILE environment variable")
    return "gpu" if device().type == "cuda" else "cpu"


def pick(configs: Mapping[str, T], which: str) -> T:
    """Return the config for profile ``which`` from a ``{profile: config}`` mapping."""
    _check(which, "pick()")
    missing = [p for p in PROFILES if p not in configs]
    if missing:
        raise KeyError(f"config has no entry for profile(s) {missing}; give one for each of {PROFILES}")
    return configs[which]
