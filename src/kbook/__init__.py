"""kbook: the shared code of "Andrej Karpathy's AI Views — Runnable Tutorials".

Notebooks import from here so that each chapter explains an idea once and reuses the
tested version afterwards.
"""

from . import data, plot, toy
from .device import autocast, bf16_supported, device, seed_everything
from .profiles import PROFILES, pick, profile
from .source import show_source
from .train import History, fit

__version__ = "0.1.0"
__all__ = [
    "PROFILES", "History", "autocast", "bf16_supported", "data", "device", "fit", "pick",
    "plot", "profile", "seed_everything", "show_source", "toy",
]
